"""Run pipeline steps in order for a logical date, recording each in ``ops.runs``."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from crm_lakehouse.config import Settings, Step
from crm_lakehouse.contracts import load_contracts
from crm_lakehouse.contracts.guard import ContractGuard, check_bronze_drift
from crm_lakehouse.delta.port import DeltaPort
from crm_lakehouse.gold import step as gold_step
from crm_lakehouse.ingest import step as bronze_step
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import RunLedger, StepRecord
from crm_lakehouse.silver import step as silver_step
from crm_lakehouse.steps import StepContext, StepOutcome

log = logging.getLogger(__name__)

STEP_FUNCTIONS: dict[Step, Callable[[StepContext], StepOutcome]] = {
    Step.BRONZE: bronze_step.run,
    Step.SILVER: silver_step.run,
    Step.GOLD: gold_step.run,
}


@dataclass
class RunResult:
    run_id: str
    date: str
    steps: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0


def new_run_id(date: str) -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{date}_{now:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


def run_steps(
    spark: SparkSession,
    port: DeltaPort,
    settings: Settings,
    date: str,
    steps: Sequence[Step] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run ``steps`` (default: the configured ones) in pipeline order for ``date``.

    A failing step is recorded with its error and re-raised; later steps do not run, earlier
    tiers stay published.
    """
    run_id = run_id or new_run_id(date)
    wanted = [s for s in Step if s in (steps or settings.pipeline.steps)]
    lake = Lake(settings.paths.lake)
    ledger = RunLedger(port, lake)
    contracts = load_contracts(settings.paths.contracts)  # all problems reported before any step
    end_of_day = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.UTC)
    guard = ContractGuard(
        port, lake, contracts, run_id=run_id, reference_time=end_of_day + dt.timedelta(days=1)
    )
    ctx = StepContext(spark=spark, port=guard, settings=settings, date=date, run_id=run_id)
    result = RunResult(run_id=run_id, date=date)
    started = time.monotonic()
    for step in wanted:
        record = StepRecord(
            run_id=run_id,
            logical_date=date,
            step=step.value,
            status="running",
            started_at=dt.datetime.now(dt.UTC),
        )
        log.info("step %s started for %s (run %s)", step.value, date, run_id)
        try:
            drift = (
                check_bronze_drift(port, lake, contracts, date=date, run_id=run_id)
                if step is Step.SILVER
                else []
            )
            outcome = STEP_FUNCTIONS[step](ctx)
            if drift:
                outcome.metrics["schema_drift"] = sorted(f.rule_id for f in drift)
        except Exception as exc:
            enforced = guard.take_stats()
            record.rows_quarantined = enforced.rows_quarantined
            record.status = "failed"
            record.finished_at = dt.datetime.now(dt.UTC)
            record.error = f"{type(exc).__name__}: {exc}"
            ledger.record(record)
            result.steps.append(record)
            result.seconds = time.monotonic() - started
            raise
        enforced = guard.take_stats()
        outcome.rows_dropped += enforced.rows_dropped
        outcome.rows_quarantined += enforced.rows_quarantined
        outcome.metrics["contract_rows_checked"] = enforced.rows_checked
        outcome.metrics["contract_seconds"] = round(enforced.seconds, 3)
        record.status = "succeeded"
        record.finished_at = dt.datetime.now(dt.UTC)
        record.rows_in = outcome.rows_in
        record.rows_out = outcome.rows_out
        record.rows_dropped = outcome.rows_dropped
        record.rows_quarantined = outcome.rows_quarantined
        record.table_versions = outcome.table_versions
        record.metrics = outcome.metrics
        ledger.record(record)
        result.steps.append(record)
        log.info(
            "step %s succeeded: %s rows in, %s out", step.value, outcome.rows_in, outcome.rows_out
        )
    result.seconds = time.monotonic() - started
    return result


@dataclass(frozen=True)
class TableSummary:
    table: str
    version: int
    rows: int


def summarise(port: DeltaPort, lake: Lake) -> list[TableSummary]:
    return [
        TableSummary(t, port.version(lake.location(t)), port.read(lake.location(t)).count())
        for t in lake.tables()
    ]
