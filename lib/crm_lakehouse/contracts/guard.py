"""Contract enforcement at the storage boundary: nothing reaches a tier around its contract.

:class:`ContractGuard` wraps the Delta port the steps write through. Every append, overwrite
or merge into a Bronze, Silver or Gold table that has a contract first runs
:func:`~crm_lakehouse.contracts.enforce` on the rows to be written: rows broken by ``drop`` rules
are removed and counted, rows broken by ``quarantine`` rules go to ``<table>__quarantine`` with
their rule ids and reasons, ``warn`` rules are recorded, and a broken ``fail`` rule raises
:class:`~crm_lakehouse.errors.ContractFailed` before anything is written, so the table's Delta
version does not change. Every validation is recorded in ``ops.dq_results``.

Putting this in the port rather than in each step means a step cannot forget it, and a write
whose transaction id was already committed (a rerun) is skipped before any validation work.
Operational tables (``ops.*``) and quarantine tables are written as they are.

Results are buffered and appended to ``ops.dq_results`` in one commit per step (by
:meth:`ContractGuard.take_stats`, which the pipeline calls after every step, failed ones
included), not one per validated table: each append is a Spark job and a Delta commit, which
on a step of a dozen small tables cost more than the checks. A broken ``fail`` rule flushes at
once, and any read of ``ops.dq_results`` through the guard flushes first, so readers (the Gold
``data_quality`` table) always see every result recorded so far.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from crm_lakehouse.contracts.drift import (
    DriftFinding,
    detect_file_drift,
    drift_results,
    raise_for_drift,
    rescued_columns,
)
from crm_lakehouse.contracts.enforcement import (
    EnforcementResult,
    TableRuleEngine,
    enforce,
    publish_quarantine,
)
from crm_lakehouse.contracts.model import Contract
from crm_lakehouse.contracts.quarantine import QUARANTINE_SUFFIX
from crm_lakehouse.contracts.results import DQ_RESULTS, RuleResult, record_results
from crm_lakehouse.delta.port import DeltaPort, HistoryEntry, Txn, WriteResult
from crm_lakehouse.errors import ContractFailed
from crm_lakehouse.lake import Lake, Tier

GUARDED_TIERS = (Tier.BRONZE, Tier.SILVER, Tier.GOLD)


@dataclass
class GuardStats:
    """What enforcement did since the last :meth:`ContractGuard.take_stats`."""

    rows_checked: int = 0
    rows_dropped: int = 0
    rows_quarantined: int = 0
    rules_failed: int = 0
    seconds: float = 0.0
    """Time spent validating, recording results and holding rows (the table write excluded)."""
    seconds_by_table: dict[str, float] = field(default_factory=dict)
    """The validating and holding part of ``seconds``, per table (results are recorded once
    per step, so their append is in ``seconds`` only)."""
    metrics: dict[str, Any] = field(default_factory=dict)


class ContractGuard(DeltaPort):
    """A :class:`DeltaPort` that enforces each table's contract before delegating a write."""

    def __init__(
        self,
        inner: DeltaPort,
        lake: Lake,
        contracts: Mapping[str, Contract],
        *,
        run_id: str,
        reference_time: dt.datetime,
        table_rule_engine: TableRuleEngine | str = TableRuleEngine.GX,
    ) -> None:
        super().__init__(inner.spark)
        self.inner = inner
        self.name = f"{inner.name}+contracts"
        self.lake = lake
        self.contracts = contracts
        self.run_id = run_id
        self.reference_time = reference_time
        self.table_rule_engine = table_rule_engine
        self._stats = GuardStats()
        self._pending: list[RuleResult] = []
        self._results_location = lake.location(DQ_RESULTS)

    # ------------------------------------------------------------------ reads: delegated

    def exists(self, location: str) -> bool:
        self._sync(location)
        return self.inner.exists(location)

    def create(
        self,
        location: str,
        schema: StructType,
        *,
        partition_by: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> bool:
        return self.inner.create(
            location,
            schema,
            partition_by=partition_by,
            properties=properties,
            description=description,
        )

    def read(self, location: str, version: int | None = None) -> DataFrame:
        self._sync(location)
        return self.inner.read(location, version)

    def version(self, location: str) -> int:
        self._sync(location)
        return self.inner.version(location)

    def history(self, location: str, limit: int | None = None) -> list[HistoryEntry]:
        self._sync(location)
        return self.inner.history(location, limit)

    def transaction_version(self, location: str, app_id: str) -> int | None:
        return self.inner.transaction_version(location, app_id)

    def vacuum(self, location: str, retention_hours: int = 168) -> list[str]:
        return self.inner.vacuum(location, retention_hours)

    def optimize(self, location: str) -> Mapping[str, Any]:
        return self.inner.optimize(location)

    # ------------------------------------------------------------------ writes: enforced

    def append(self, location: str, df: DataFrame, *, txn: Txn | None = None) -> WriteResult:
        return self._guarded(
            location, df, txn, lambda rows: self.inner.append(location, rows, txn=txn)
        )

    def append_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        txn: Txn | None = None,
    ) -> WriteResult:
        if self.contract_for(location) is None:
            return self.inner.append_rows(location, rows, schema, txn=txn)
        return super().append_rows(location, rows, schema, txn=txn)  # enforced, via append

    def merge_rows(
        self,
        location: str,
        rows: Sequence[Sequence[Any]],
        schema: StructType,
        *,
        keys: Sequence[str],
        txn: Txn | None = None,
    ) -> WriteResult:
        if self.contract_for(location) is None:
            return self.inner.merge_rows(location, rows, schema, keys=keys, txn=txn)
        return super().merge_rows(location, rows, schema, keys=keys, txn=txn)  # via merge

    def overwrite(
        self,
        location: str,
        df: DataFrame,
        *,
        predicate: str | None = None,
        txn: Txn | None = None,
    ) -> WriteResult:
        return self._guarded(
            location,
            df,
            txn,
            lambda rows: self.inner.overwrite(location, rows, predicate=predicate, txn=txn),
        )

    def merge(
        self,
        location: str,
        source: DataFrame,
        *,
        keys: Sequence[str],
        update_condition: str | None = None,
        delete_condition: str | None = None,
        insert: bool = True,
        txn: Txn | None = None,
    ) -> WriteResult:
        return self._guarded(
            location,
            source,
            txn,
            lambda rows: self.inner.merge(
                location,
                rows,
                keys=keys,
                update_condition=update_condition,
                delete_condition=delete_condition,
                insert=insert,
                txn=txn,
            ),
        )

    def take_stats(self) -> GuardStats:
        """Record the buffered results, then return the enforcement totals since the last call
        (the pipeline calls it after each step, whether the step succeeded or not)."""
        self.flush_results()
        stats, self._stats = self._stats, GuardStats()
        return stats

    def flush_results(self) -> None:
        """Append the buffered results to ``ops.dq_results`` in one commit."""
        if not self._pending:
            return
        started = dt.datetime.now(dt.UTC)
        pending, self._pending = self._pending, []
        record_results(self.inner, self.lake, pending)
        self._stats.seconds += (dt.datetime.now(dt.UTC) - started).total_seconds()

    def _sync(self, location: str) -> None:
        if self._pending and location == self._results_location:
            self.flush_results()

    # ------------------------------------------------------------------ internals

    def contract_for(self, location: str) -> Contract | None:
        table = self.lake.table_of(location)
        if table is None or table.endswith(QUARANTINE_SUFFIX):
            return None
        if not table.startswith(tuple(f"{t.value}." for t in GUARDED_TIERS)):
            return None
        return self.contracts.get(table)

    def _resolve(self, table: str) -> DataFrame | None:
        location = self.lake.location(table)
        return self.inner.read(location) if self.inner.exists(location) else None

    def _guarded(
        self,
        location: str,
        df: DataFrame,
        txn: Txn | None,
        write: Callable[[DataFrame], WriteResult],
    ) -> WriteResult:
        contract = self.contract_for(location)
        if contract is None or self.inner.already_written(location, txn):
            return write(df)  # no contract, or a rerun the inner port skips
        # Compute the data once, cached, before validating it: the checks, the GX suite and the
        # write all read that cache, and the contract time measures validation, not the step's
        # own work of producing the rows.
        owned = not df.is_cached
        if owned:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            df.count()
            return self._enforce_and_write(location, df, contract, txn, write)
        finally:
            if owned:
                df.unpersist()

    def _enforce_and_write(
        self,
        location: str,
        df: DataFrame,
        contract: Contract,
        txn: Txn | None,
        write: Callable[[DataFrame], WriteResult],
    ) -> WriteResult:
        started = dt.datetime.now(dt.UTC)
        try:
            result = enforce(
                df,
                contract,
                run_id=self.run_id,
                reference_time=self.reference_time,
                resolve_table=self._resolve,
                table_rule_engine=self.table_rule_engine,
            )
        except ContractFailed as failed:
            self._pending.extend(failed.results)
            self._stats.rules_failed += len(failed.failures)
            self.flush_results()
            raise
        with result:
            self._pending.extend(result.results)
            quarantine_txn = Txn(f"{txn.app_id}:quarantine", txn.version) if txn else None
            publish_quarantine(self.inner, self.lake, result, txn=quarantine_txn)
            self._count(result, (dt.datetime.now(dt.UTC) - started).total_seconds())
            return write(result.published)

    def _count(self, result: EnforcementResult, seconds: float) -> None:
        s = self._stats
        s.rows_checked += result.rows_in
        s.rows_dropped += result.rows_dropped
        s.rows_quarantined += result.rows_quarantined
        s.seconds += seconds
        s.metrics.update(result.metrics())
        s.seconds_by_table[result.table] = round(
            s.seconds_by_table.get(result.table, 0.0) + seconds, 3
        )


def check_bronze_drift(
    port: DeltaPort,
    lake: Lake,
    contracts: Mapping[str, Contract],
    *,
    date: str,
    run_id: str,
) -> list[DriftFinding]:
    """Compare the columns delivered on ``date`` with the Bronze contracts, before Silver.

    CSV files: the file ledger lists each file's missing and extra columns. JSONL files have no
    header, so the keys rescued into ``_rescued`` are the extra ones. Every finding is recorded
    in ``ops.dq_results``; findings whose declared action is ``fail`` then raise
    :class:`~crm_lakehouse.errors.SchemaDriftError`, so Silver never reads a delivery whose
    shape the contract does not allow.
    """
    from crm_lakehouse.ingest.bronze import bronze_table
    from crm_lakehouse.ops.ledger import INGESTED_FILES
    from crm_lakehouse.sources import FileFormat, all_entities, source

    findings: list[DriftFinding] = []
    ledger = lake.location(INGESTED_FILES)
    if port.exists(ledger):
        rows = (
            port.read(ledger)
            .where((F.col("delivery_date") == date) & (F.col("status") == "ingested"))
            .collect()
        )
        for r in rows:
            contract = contracts.get(r["bronze_table"])
            if contract is not None and (r["missing_columns"] or r["extra_columns"]):
                findings += detect_file_drift(
                    contract,
                    missing_columns=r["missing_columns"],
                    extra_columns=r["extra_columns"],
                    source=r["source_file"],
                )
    for entity in all_entities():
        table = bronze_table(entity)
        location = lake.location(table)
        if (
            source(entity.source).format is not FileFormat.JSONL
            or table not in contracts
            or not port.exists(location)
        ):
            continue
        day = port.read(location).where(F.col("_delivery_date") == date)
        extra = rescued_columns(day.where(F.col("_rescued").isNotNull()))
        if extra:
            findings += detect_file_drift(
                contracts[table], missing_columns=(), extra_columns=extra, source=table
            )
    record_results(
        port, lake, drift_results(findings, run_id=run_id, checked_at=dt.datetime.now(dt.UTC))
    )
    raise_for_drift(findings)
    return findings
