"""Rule results and the ``ops.dq_results`` table that keeps them.

A :class:`RuleResult` is what one rule observed in one validation. Results are PII-free by
construction: for a rule touching a PII column only counts are kept (no observed values, no
sample of unexpected values), because ``ops.dq_results`` and Data Docs are read far more widely
than the tables themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.delta.port import DeltaPort, Txn, WriteResult
from crm_lakehouse.lake import Lake

if TYPE_CHECKING:
    from crm_lakehouse.contracts.model import Contract, Rule

DQ_RESULTS = "ops.dq_results"

DQ_RESULTS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("table", StringType(), False),
        StructField("rule_id", StringType(), False),
        StructField("rule_kind", StringType(), False),
        StructField("columns", ArrayType(StringType(), False), False),
        StructField("action", StringType(), False),
        StructField("passed", BooleanType(), False),
        StructField("observed_value", StringType(), True),
        StructField("unexpected_count", LongType(), True),
        StructField("unexpected_percent", DoubleType(), True),
        StructField("element_count", LongType(), True),
        StructField("threshold", StringType(), False),
        StructField("engine", StringType(), False),
        StructField("details", StringType(), True),
        StructField("checked_at", TimestampType(), False),
    ]
)

ENGINE_SPARK = "spark"
ENGINE_GX = "great_expectations"
ENGINE_SCHEMA = "schema"


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome in one validation of one table.

    ``observed_value`` is a short readable summary (``"3 of 120 rows (2.5%)"``, a row count, the
    newest timestamp); ``details`` holds extra JSON-able facts (for non-PII rules, a sample of
    unexpected values). ``passed`` says whether the rule's threshold held; whether that stops the
    run depends on ``action``.
    """

    run_id: str
    table: str
    rule_id: str
    rule_kind: str
    columns: tuple[str, ...]
    action: str
    passed: bool
    observed_value: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    element_count: int | None
    threshold: str
    engine: str
    checked_at: dt.datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_rule(
        cls,
        contract: Contract,
        rule: Rule,
        *,
        run_id: str,
        checked_at: dt.datetime,
        engine: str,
        passed: bool,
        observed_value: str | None,
        unexpected_count: int | None,
        unexpected_percent: float | None,
        element_count: int | None,
        details: Mapping[str, Any] | None = None,
    ) -> RuleResult:
        """The result of ``rule`` of ``contract``: its table, id, kind, columns, action and
        threshold come from the rule; the measured fields are given."""
        return cls(
            run_id=run_id,
            table=contract.table,
            rule_id=rule.id,
            rule_kind=rule.kind.value,
            columns=rule.columns,
            action=rule.action.value,
            passed=passed,
            observed_value=observed_value,
            unexpected_count=unexpected_count,
            unexpected_percent=unexpected_percent,
            element_count=element_count,
            threshold=rule.threshold(),
            engine=engine,
            checked_at=checked_at,
            details=dict(details or {}),
        )

    @property
    def broke_fail_rule(self) -> bool:
        return not self.passed and self.action == "fail"

    def as_row(self) -> tuple[object, ...]:
        return (
            self.run_id,
            self.table,
            self.rule_id,
            self.rule_kind,
            list(self.columns),
            self.action,
            self.passed,
            self.observed_value,
            self.unexpected_count,
            self.unexpected_percent,
            self.element_count,
            self.threshold,
            self.engine,
            json.dumps(dict(self.details), sort_keys=True, default=str) if self.details else None,
            self.checked_at,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RuleResult:
        details = row["details"]
        checked_at = row["checked_at"]
        if isinstance(checked_at, dt.datetime) and checked_at.tzinfo is None:
            # Spark hands timestamps back as naive local times.
            checked_at = checked_at.astimezone(dt.UTC)
        return cls(
            run_id=row["run_id"],
            table=row["table"],
            rule_id=row["rule_id"],
            rule_kind=row["rule_kind"],
            columns=tuple(row["columns"] or ()),
            action=row["action"],
            passed=bool(row["passed"]),
            observed_value=row["observed_value"],
            unexpected_count=row["unexpected_count"],
            unexpected_percent=row["unexpected_percent"],
            element_count=row["element_count"],
            threshold=row["threshold"],
            engine=row["engine"],
            checked_at=checked_at,
            details=json.loads(details) if details else {},
        )


def record_results(
    port: DeltaPort, lake: Lake, results: Iterable[RuleResult], *, txn: Txn | None = None
) -> WriteResult | None:
    """Append results to ``ops.dq_results`` (creating it on first use); None when empty.

    Call it for every validation, including one that failed (the results travel on
    :class:`~crm_lakehouse.errors.ContractFailed`), so the ledger shows why a run stopped.
    """
    rows = [r.as_row() for r in results]
    location = lake.location(DQ_RESULTS)
    port.create(
        location,
        DQ_RESULTS_SCHEMA,
        description="Data-quality results: one row per contract rule per validation",
    )
    if not rows:
        return None
    return port.append_rows(location, rows, DQ_RESULTS_SCHEMA, txn=txn)


def read_results(
    port: DeltaPort,
    lake: Lake,
    *,
    run_id: str | None = None,
    tables: Sequence[str] | None = None,
) -> list[RuleResult]:
    """Results of one run (default: the run with the latest ``checked_at``), oldest first."""
    location = lake.location(DQ_RESULTS)
    if not port.exists(location):
        return []
    df = port.read(location)
    if run_id is None:
        latest = df.orderBy(F.col("checked_at").desc()).select("run_id").first()
        if latest is None:
            return []
        run_id = latest["run_id"]
    df = df.where(F.col("run_id") == run_id)
    if tables:
        df = df.where(F.col("table").isin(list(tables)))
    rows = df.orderBy("checked_at", "table", "rule_id").collect()
    return [RuleResult.from_row(r.asDict()) for r in rows]
