"""Entity resolution: blocking, explainable pairwise comparison and connected components."""

from __future__ import annotations

from crm_lakehouse.match.blocking import Blocks, candidate_pairs
from crm_lakehouse.match.cluster import Components, connected_components, veto_cluster_conflicts
from crm_lakehouse.match.compare import apply_rules, jaro_winkler
from crm_lakehouse.match.config import MatchingConfig, load_industries, load_matching

__all__ = [
    "Blocks",
    "Components",
    "MatchingConfig",
    "apply_rules",
    "candidate_pairs",
    "connected_components",
    "jaro_winkler",
    "load_industries",
    "load_matching",
    "veto_cluster_conflicts",
]
