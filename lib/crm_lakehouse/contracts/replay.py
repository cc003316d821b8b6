"""Re-submit quarantined rows after a fix (a corrected contract, a repaired normaliser).

Held rows are released in their original shape, the newest per primary key, and written
through the :class:`~crm_lakehouse.contracts.guard.ContractGuard` like any other publish: rows
that now pass are merged into the table, rows that still break a rule are held again under the
replay's run id, and the released rows are then removed from the quarantine table.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Window
from pyspark.sql import functions as F

from crm_lakehouse.contracts.guard import ContractGuard
from crm_lakehouse.contracts.quarantine import QUARANTINE_SUFFIX, released_rows
from crm_lakehouse.delta._common import sql_string
from crm_lakehouse.delta.port import Txn
from crm_lakehouse.errors import ConfigError

# Tables written by MERGE with a modification time refuse older data on replay too, with the
# Silver merge's own condition.
from crm_lakehouse.silver.records import REFUSE_OLDER


@dataclass(frozen=True)
class ReplayOutcome:
    table: str
    released: int
    published: int
    held_again: int
    table_version: int | None


def replay_quarantine(guard: ContractGuard, table: str) -> ReplayOutcome:
    """Re-submit every row held for ``table``; see the module docstring."""
    contract = guard.contracts.get(table)
    if contract is None or table.endswith(QUARANTINE_SUFFIX):
        raise ConfigError(f"--table {table}: no contract for this table, so nothing is held for it")
    keys = contract.primary_key
    if not keys:
        raise ConfigError(
            f"--table {table}: its contract declares no primaryKey; replay merges held rows "
            "on the primary key"
        )
    lake = guard.lake
    qloc = lake.location(table + QUARANTINE_SUFFIX)
    location = lake.location(table)
    if not guard.exists(qloc) or not guard.exists(location):
        return ReplayOutcome(table, 0, 0, 0, None)
    held = guard.read(qloc).where(F.col("_run_id") != guard.run_id).persist()
    try:
        released = held.count()
        if released == 0:
            return ReplayOutcome(table, 0, 0, 0, guard.version(location))
        old_runs = sorted(r["_run_id"] for r in held.select("_run_id").distinct().collect())
        newest = Window.partitionBy(*keys).orderBy(F.col("_quarantined_at").desc())
        rows = released_rows(
            held.withColumn("_n", F.row_number().over(newest)).where("_n = 1").drop("_n")
        )
        rows = rows.select(*guard.read(location).columns)
        condition = REFUSE_OLDER if {"modified_at", "_row_hash"} <= set(rows.columns) else None
        guard.take_stats()
        result = guard.merge(
            location,
            rows,
            keys=keys,
            update_condition=condition,
            txn=Txn(f"replay:{table}:{guard.run_id}"),
        )
        stats = guard.take_stats()
        in_list = ", ".join(sql_string(r) for r in old_runs)
        guard.inner.overwrite(qloc, held.limit(0), predicate=f"_run_id IN ({in_list})")
        return ReplayOutcome(
            table,
            released,
            stats.rows_checked - stats.rows_quarantined - stats.rows_dropped,
            stats.rows_quarantined,
            result.version,
        )
    finally:
        held.unpersist()
