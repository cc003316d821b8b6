"""What a Gold table is made of: its inputs, its schema, a pure build and a change fingerprint.

Every Gold table is declared as a :class:`GoldTable`:

* ``build(snapshot, ctx)`` computes the whole table from a :class:`Snapshot` of its inputs (the
  input tables at fixed versions plus the logical date). It is pure, so unit tests call it on
  inline frames and the full refresh is just ``build`` on the current snapshot.
* ``fingerprint(snapshot, ctx)`` lists, per value of the table's ``key`` column, one hash per
  input fact the key's rows depend on (an opportunity, a company, a lead, ...), including facts
  that depend on the logical date (e.g. whether a won deal is inside the revenue window). The
  keys whose fingerprints differ between two snapshots are exactly the keys whose rows may have
  changed, which is what an incremental refresh recomputes (:mod:`crm_lakehouse.gold.refresh`).

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
    fingerprint: Build
    uses_pii_key: bool = False
    dynamic_inputs: Callable[[list[str]], tuple[str, ...]] | None = field(default=None)
    """Extra inputs chosen from the lake's table names (e.g. every quarantine table)."""


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """``df`` with exactly ``schema``'s columns, in order, cast to its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def row_hash(*cols: str | Column) -> Column:
    """SHA-256 of the JSON of the given columns: equal facts give equal hashes."""
    return F.sha2(F.to_json(F.struct(*cols)), 256)


def fingerprints(df: DataFrame, key: Column | str, *cols: str | Column) -> DataFrame:
    """``(key, fp)`` rows: one hash of ``cols`` per row of ``df`` (rows with a null key left out,
    since they cannot belong to any Gold row)."""
    k = F.col(key) if isinstance(key, str) else key
    return df.select(k.cast("string").alias("key"), row_hash(*cols).alias("fp")).where(
        F.col("key").isNotNull()
    )


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
