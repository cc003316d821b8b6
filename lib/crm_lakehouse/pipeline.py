"""Run pipeline steps in order for a logical date, recording each in ``ops.runs``.

:func:`run_steps` runs one date; :func:`run_dates` runs several in date order (a backfill) and
stops at the first date that fails. Both are what ``lakehouse run`` calls; they assume the
caller holds the lake's lock (:class:`~crm_lakehouse.ops.lock.LakeLock`) when ``resume`` is on.

Resuming and idempotency: with ``resume=True`` a step whose latest attempt for the date
succeeded with the same inputs (the same fingerprint of the date's delivery, see
:func:`delivery_fingerprint`) is not run again but recorded as ``skipped``, so rerunning a
completed date writes no data table, and rerunning a failed date starts at the step that
failed. Inside a step, Delta application transactions make a repeated write a no-op, so a step
that died half way is simply run again. ``full_refresh=True`` runs every step regardless and tells the steps so
(``StepContext.full_refresh``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from crm_lakehouse.config import Settings, Step
from crm_lakehouse.contracts import Contract, load_contracts
from crm_lakehouse.contracts.guard import ContractGuard, check_bronze_drift
from crm_lakehouse.delta.port import DeltaPort
from crm_lakehouse.errors import LakehouseError
from crm_lakehouse.gold import step as gold_step
from crm_lakehouse.ingest import step as bronze_step
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import LastOutcome, RunLedger, StepRecord, StepStatus
from crm_lakehouse.ops.lock import LakeLock
from crm_lakehouse.ops.logs import run_context
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

    @property
    def status(self) -> str:
        """``failed`` if a step failed, ``skipped`` if every step was skipped, else
        ``succeeded``."""
        statuses = {s.status for s in self.steps}
        if StepStatus.FAILED in statuses:
            return StepStatus.FAILED.value
        if statuses == {StepStatus.SKIPPED.value}:
            return StepStatus.SKIPPED.value
        return StepStatus.SUCCEEDED.value


def new_run_id(date: str) -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{date}_{now:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


def delivery_fingerprint(landing: Path, date: str) -> tuple[str, dict[str, int]]:
    """A fingerprint of the files delivered for ``date``, and their count and bytes.

    Built from each file's path under ``landing``, size and modification time, not its
    content, so it costs one directory listing. A new, changed or removed file changes it and
    the date's steps run again (their Delta transactions then decide what is written); a file
    merely touched also changes it, which only costs time.
    """
    entries: list[str] = []
    total = 0
    if landing.is_dir():
        for source in sorted(p for p in landing.iterdir() if p.is_dir()):
            if source.name.startswith(("_", ".")):
                continue
            day = source / date
            if not day.is_dir():
                continue
            for path in sorted(day.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    st = path.stat()
                    total += st.st_size
                    entries.append(f"{path.relative_to(landing)}\t{st.st_size}\t{st.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
    return digest, {"files": len(entries), "bytes": total}


def run_steps(
    spark: SparkSession,
    port: DeltaPort,
    settings: Settings,
    date: str,
    steps: Sequence[Step] | None = None,
    run_id: str | None = None,
    *,
    full_refresh: bool = False,
    resume: bool = False,
    position: tuple[int, int] = (1, 1),
) -> RunResult:
    """Run ``steps`` (default: the configured ones) in pipeline order for ``date``.

    A failing step is recorded with its error and re-raised; later steps do not run, earlier
    tiers stay published. With ``resume``, a step whose latest attempt for ``date`` succeeded
    with the same inputs is recorded as ``skipped`` instead of run (unless ``full_refresh``).
    ``position`` is this date's place in a backfill (for progress display).
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
    ctx = StepContext(
        spark=spark,
        port=guard,
        settings=settings,
        date=date,
        run_id=run_id,
        full_refresh=full_refresh,
    )
    fingerprint, delivery = delivery_fingerprint(settings.paths.landing, date)
    prior = ledger.last_outcomes(date) if resume and not full_refresh else {}
    result = RunResult(run_id=run_id, date=date)
    started = time.monotonic()
    with run_context(run_id=run_id, date=date):
        log.info(
            "run %s started for %s: steps %s%s",
            run_id,
            date,
            ",".join(s.value for s in wanted),
            " (full refresh)" if full_refresh else "",
            extra={
                "event": "run_started",
                "fields": {
                    "steps": [s.value for s in wanted],
                    "full_refresh": full_refresh,
                    "input_fingerprint": fingerprint,
                    "delivery": delivery,
                    "date_index": position[0],
                    "date_count": position[1],
                },
            },
        )
        try:
            for index, step in enumerate(wanted, start=1):
                done = prior.get(step.value)
                if done is not None and done.covers(fingerprint):
                    result.steps.append(_skip(ledger, run_id, date, step, done, fingerprint))
                    continue
                _run_step(
                    ctx,
                    ledger,
                    guard,
                    contracts,
                    step,
                    fingerprint,
                    progress={
                        "step_index": index,
                        "step_count": len(wanted),
                        "date_index": position[0],
                        "date_count": position[1],
                    },
                    on_record=result.steps.append,
                )
        finally:
            result.seconds = time.monotonic() - started
            log.info(
                "run %s %s for %s in %.1f s",
                run_id,
                result.status,
                date,
                result.seconds,
                extra={
                    "event": "run_finished",
                    "fields": {
                        "status": result.status,
                        "duration_s": round(result.seconds, 3),
                        "steps": {s.step: s.status for s in result.steps},
                    },
                },
            )
    return result


def _skip(
    ledger: RunLedger, run_id: str, date: str, step: Step, done: LastOutcome, fingerprint: str
) -> StepRecord:
    now = dt.datetime.now(dt.UTC)
    record = StepRecord(
        run_id=run_id,
        logical_date=date,
        step=step.value,
        status=StepStatus.SKIPPED.value,
        started_at=now,
        finished_at=now,
        table_versions=dict(done.table_versions),
        metrics={"input_fingerprint": fingerprint, "succeeded_in_run": done.run_id},
    )
    ledger.record(record)
    log.info(
        "step %s skipped: it succeeded for %s in run %s with the same inputs",
        step.value,
        date,
        done.run_id,
        extra={
            "event": "step_skipped",
            "fields": {"step": step.value, "succeeded_in_run": done.run_id},
        },
    )
    return record


def _run_step(
    ctx: StepContext,
    ledger: RunLedger,
    guard: ContractGuard,
    contracts: Mapping[str, Contract],
    step: Step,
    fingerprint: str,
    *,
    progress: dict[str, int],
    on_record: Callable[[StepRecord], None],
) -> StepRecord:
    """Run one step, recording it as ``running`` first and with its outcome after."""
    record = StepRecord(
        run_id=ctx.run_id,
        logical_date=ctx.date,
        step=step.value,
        status=StepStatus.RUNNING.value,
        started_at=dt.datetime.now(dt.UTC),
        metrics={"input_fingerprint": fingerprint},
    )
    ledger.start(record)
    on_record(record)
    log.info(
        "step %s started for %s",
        step.value,
        ctx.date,
        extra={"event": "step_started", "fields": {"step": step.value, **progress}},
    )
    lake = guard.lake
    try:
        drift = (
            check_bronze_drift(guard.inner, lake, contracts, date=ctx.date, run_id=ctx.run_id)
            if step is Step.SILVER
            else []
        )
        outcome = STEP_FUNCTIONS[step](ctx)
        if drift:
            outcome.metrics["schema_drift"] = sorted(f.rule_id for f in drift)
    except BaseException as exc:
        enforced = guard.take_stats()
        record.rows_quarantined = enforced.rows_quarantined
        record.status = StepStatus.FAILED.value
        record.finished_at = dt.datetime.now(dt.UTC)
        record.error = f"{type(exc).__name__}: {exc}"
        try:
            ledger.finish(record)
        except Exception:  # keep the step's own error as the one that surfaces
            log.exception("could not record the failure of step %s in ops.runs", step.value)
        log.error(
            "step %s failed after %.1f s: %s",
            step.value,
            record.duration_s or 0.0,
            record.error,
            exc_info=not isinstance(exc, LakehouseError | KeyboardInterrupt),
            extra={
                "event": "step_failed",
                "fields": {
                    "step": step.value,
                    "status": record.status,
                    "duration_s": record.duration_s,
                    "error": record.error,
                    "rows_quarantined": record.rows_quarantined,
                },
            },
        )
        raise
    enforced = guard.take_stats()
    outcome.rows_dropped += enforced.rows_dropped
    outcome.rows_quarantined += enforced.rows_quarantined
    outcome.metrics["contract_rows_checked"] = enforced.rows_checked
    outcome.metrics["contract_seconds"] = round(enforced.seconds, 3)
    outcome.metrics["contract_seconds_by_table"] = enforced.seconds_by_table
    outcome.metrics["input_fingerprint"] = fingerprint
    record.status = StepStatus.SUCCEEDED.value
    record.finished_at = dt.datetime.now(dt.UTC)
    record.rows_in = outcome.rows_in
    record.rows_out = outcome.rows_out
    record.rows_dropped = outcome.rows_dropped
    record.rows_quarantined = outcome.rows_quarantined
    record.table_versions = outcome.table_versions
    record.metrics = outcome.metrics
    ledger.finish(record)
    log.info(
        "step %s succeeded in %.1f s: %s rows in, %s out, %s dropped, %s quarantined",
        step.value,
        record.duration_s or 0.0,
        outcome.rows_in,
        outcome.rows_out,
        outcome.rows_dropped,
        outcome.rows_quarantined,
        extra={
            "event": "step_finished",
            "fields": {
                "step": step.value,
                "status": record.status,
                "duration_s": record.duration_s,
                "rows_in": outcome.rows_in,
                "rows_out": outcome.rows_out,
                "rows_dropped": outcome.rows_dropped,
                "rows_quarantined": outcome.rows_quarantined,
                "table_versions": dict(outcome.table_versions),
                "metrics": json.loads(json.dumps(outcome.metrics, default=str)),
            },
        },
    )
    return record


def run_dates(
    spark: SparkSession,
    port: DeltaPort,
    settings: Settings,
    dates: Sequence[str],
    steps: Sequence[Step] | None = None,
    *,
    full_refresh: bool = False,
    lock: LakeLock | None = None,
    reports: Path | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run the dates in date order, one run (and run id) per date; stop at the first failure.

    With ``lock`` (held by the caller), each run's id is written into the lock, and steps left
    ``running`` by a run that died are first marked ``abandoned``. With ``reports`` (the
    reports folder), an HTML report of each run is written to ``<reports>/runs/``, also for a
    run that failed. The failing date's error is re-raised after its report is written; later
    dates do not run. ``on_run`` is called with each date's result as soon as it succeeds.
    """
    from crm_lakehouse.ops.report import write_run_report

    ordered = sorted(dict.fromkeys(dates))
    ledger = RunLedger(port, Lake(settings.paths.lake))
    results: list[RunResult] = []
    for i, date in enumerate(ordered, start=1):
        run_id = new_run_id(date)
        if lock is not None:
            lock.update(run_id)
        if lock is not None and i == 1:
            with run_context(run_id=run_id, date=date):
                for rec in ledger.abandon_running(found_by=run_id):
                    log.warning(
                        "run %s died during step %s for %s; marked abandoned in ops.runs",
                        rec.run_id,
                        rec.step,
                        rec.logical_date,
                        extra={
                            "event": "step_abandoned",
                            "fields": {"abandoned_run_id": rec.run_id, "step": rec.step},
                        },
                    )
        try:
            result = run_steps(
                spark,
                port,
                settings,
                date,
                steps,
                run_id,
                full_refresh=full_refresh,
                resume=True,
                position=(i, len(ordered)),
            )
        finally:
            if reports is not None:
                with run_context(run_id=run_id, date=date):
                    try:
                        path = write_run_report(Lake(settings.paths.lake), run_id, reports)
                        log.info(
                            "run report written to %s",
                            path,
                            extra={"event": "report_written", "fields": {"path": str(path)}},
                        )
                    except Exception:
                        log.exception("could not write the run report for %s", run_id)
        results.append(result)
        if on_run is not None:
            on_run(result)
    return results


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
