"""Survivorship: declared per-attribute strategies (conf/rules/survivorship.yaml) -> golden values."""

from __future__ import annotations

from crm_lakehouse.survive.config import (
    AttributeRule,
    EntitySurvivorship,
    Strategy,
    SurvivorshipConfig,
    load_survivorship,
)
from crm_lakehouse.survive.engine import conflicts, survive

__all__ = [
    "AttributeRule",
    "EntitySurvivorship",
    "Strategy",
    "SurvivorshipConfig",
    "conflicts",
    "load_survivorship",
    "survive",
]
