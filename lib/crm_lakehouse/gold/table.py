"""What a Gold table is made of: its inputs, its schema and a pure build.

Every Gold table is declared as a :class:`GoldTable`:

* ``build(snapshot, ctx)`` computes the whole table from a :class:`Snapshot` of its inputs (the
  input tables at fixed versions plus the logical date). It is pure, so unit tests call it on
  inline frames, the full refresh is ``build`` on the current snapshot, and the incremental
  refresh compares its rows with the stored ones key by key
  (:mod:`crm_lakehouse.gold.refresh`).

Rows are conformed to the declared ``schema`` (column order and types), which is also what the
contract in ``contracts/gold/<table>.yaml`` is checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from crm_lakehouse.gold.pii import PiiKey
from crm_lakehouse.gold.rules import GoldRules


@dataclass(frozen=True)
class Snapshot:
    """Input tables as of fixed versions (None: the table did not exist) and the logical date."""

    frames: Mapping[str, DataFrame | None]
    date: str

    def get(self, table: str) -> DataFrame | None:
        return self.frames.get(table)

    def require(self, table: str) -> DataFrame:
        df = self.frames.get(table)
        if df is None:
            raise ValueError(f"Gold build needs {table}, which does not exist (yet)")
        return df


@dataclass(frozen=True)
class BuildContext:
    """What builds need besides their inputs. ``pii_key`` is None for tables without PII."""

    rules: GoldRules
    pii_key: PiiKey | None = None
    resolution_rules_dir: Path | None = None  # matching/survivorship rules (None: default)

    def key(self) -> PiiKey:
        if self.pii_key is None:
            raise ValueError("this Gold build hashes personal data but was given no PII key")
        return self.pii_key


Build = Callable[[Snapshot, BuildContext], DataFrame]


@dataclass(frozen=True)
class GoldTable:
    """One Gold table: name, replacement key, schema, inputs and its two pure functions.

    ``key``: the column whose values an incremental refresh replaces (``key IN (...)``); it is
    never null. ``required``: inputs without which the table is not built (the step skips it).
    ``uses_pii_key``: the table carries HMAC columns, so a different key rebuilds it in full.
    """

    table: str
    key: str
    schema: StructType
    description: str
    inputs: tuple[str, ...]
    required: tuple[str, ...]
    build: Build
    uses_pii_key: bool = False
    dynamic_inputs: Callable[[list[str]], tuple[str, ...]] | None = field(default=None)
    """Extra inputs chosen from the lake's table names (e.g. every quarantine table)."""


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """``df`` with exactly ``schema``'s columns, in order, cast to its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def money(col: Column | str) -> Column:
    """An amount as an exact decimal, so sums do not depend on the order rows arrive in (a
    rerun, an incremental and a full refresh must give identical doubles)."""
    c = F.col(col) if isinstance(col, str) else col
    return c.cast("decimal(20,4)")


def cents(col: Column) -> Column:
    """A decimal sum rounded to cents, as a double (the type analysts' tools expect)."""
    return F.round(col, 2).cast("double")


def ratio(numerator: Column, denominator: Column, digits: int = 4) -> Column:
    """numerator / denominator rounded, null when the denominator is 0."""
    return F.when(denominator > 0, F.round(numerator / denominator, digits))
