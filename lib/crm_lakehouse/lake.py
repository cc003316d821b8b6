"""Table names and where they live.

A table is named ``<tier>.<table>`` (``bronze.salesforce_accounts``, ``silver.companies``,
``ops.runs``) and stored at ``<lake>/<tier>/<table>``. Quarantine tables are
``<tier>.<table>__quarantine``. This module is the only place that maps names to locations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Tier(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    OPS = "ops"


@dataclass(frozen=True)
class Lake:
    root: Path

    def location(self, table: str) -> str:
        tier, name = split_name(table)
        return str((self.root / tier.value / name).resolve())

    def table_of(self, location: str) -> str | None:
        """The ``tier.table`` name stored at ``location``, or None outside this lake."""
        try:
            rel = Path(location).resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        if len(rel.parts) != 2 or rel.parts[0] not in {t.value for t in Tier}:
            return None
        return f"{rel.parts[0]}.{rel.parts[1]}"

    def tables(self) -> list[str]:
        """Every Delta table under the lake, as ``tier.table`` names, sorted."""
        found = []
        for tier in Tier:
            tier_dir = self.root / tier.value
            if not tier_dir.is_dir():
                continue
            for child in sorted(tier_dir.iterdir()):
                if (child / "_delta_log").is_dir():
                    found.append(f"{tier.value}.{child.name}")
        return found


def split_name(table: str) -> tuple[Tier, str]:
    tier_name, sep, name = table.partition(".")
    if not sep or not name or "/" in name:
        raise ValueError(f"table name {table!r} is not of the form <tier>.<table>")
    try:
        return Tier(tier_name), name
    except ValueError:
        raise ValueError(
            f"table {table!r}: unknown tier {tier_name!r} (known: {[t.value for t in Tier]})"
        ) from None
