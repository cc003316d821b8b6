"""Gold: analyst-facing aggregates refreshed incrementally from Silver (see ``step``)."""

from __future__ import annotations

from crm_lakehouse.gold.pii import KEY_ENV, KEY_FILE_ENV, PiiKey, hash_column, load_pii_key
from crm_lakehouse.gold.rules import GoldRules, load_gold_rules
from crm_lakehouse.gold.state import BUILDS, BUILDS_SCHEMA

__all__ = [
    "BUILDS",
    "BUILDS_SCHEMA",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "GoldRules",
    "PiiKey",
    "hash_column",
    "load_gold_rules",
    "load_pii_key",
]
