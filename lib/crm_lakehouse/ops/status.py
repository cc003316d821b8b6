"""What the lake's operations look like, read from the Delta logs without Spark or a JVM.

``lakehouse status`` and ``lakehouse history`` and the HTML run report read the operational
tables (``ops.runs``, ``ops.dq_results``) and table metadata here with delta-rs (the
``deltalake`` package), so they answer in about a second, even while a run holds the lock.

* :func:`read_runs` / :func:`summarise_runs`: the run ledger, grouped per run.
* :func:`dq_outcomes` / :func:`dq_trend`: the latest data-quality outcome per table, and the
  outcome of each of the last runs.
* :func:`table_history`: a table's commits with their application-transaction ids (read from
  the commit files of ``_delta_log``) and the run that produced each version.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_lakehouse.errors import DeltaTableError, TableNotFoundError
from crm_lakehouse.lake import Lake, split_name
from crm_lakehouse.ops.ledger import RUNS, StepRecord, StepStatus
from crm_lakehouse.ops.lock import LockInfo, read_lock

DQ_RESULTS = "ops.dq_results"  # the name contracts.results writes (kept free of its Spark import)

STEP_MARK = {
    StepStatus.SUCCEEDED.value: "ok",
    StepStatus.SKIPPED.value: "skipped",
    StepStatus.FAILED.value: "FAILED",
    StepStatus.RUNNING.value: "running",
    StepStatus.ABANDONED.value: "ABANDONED",
}


def read_rows(lake: Lake, table: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every row of a (small, operational) table as dicts; [] when the table does not exist."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError
    from deltalake.exceptions import TableNotFoundError as RsTableNotFoundError

    location = lake.location(table)
    if not (Path(location) / "_delta_log").is_dir():
        return []
    try:
        # use_threads=False: with Arrow's scan threads, the interpreter aborts at exit now and
        # then ("terminate called without an active exception"); these tables are small.
        data = (
            DeltaTable(location)
            .to_pyarrow_dataset()
            .to_table(columns=list(columns) if columns else None, use_threads=False)
        )
    except RsTableNotFoundError:
        return []
    except DeltaError as exc:
        raise DeltaTableError(f"{table}: cannot read {location}: {exc}") from exc
    return data.to_pylist()


# ---------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunSummary:
    """One run of the pipeline (one date), from its ``ops.runs`` rows."""

    run_id: str
    date: str
    status: str
    steps: tuple[StepRecord, ...]
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def error(self) -> str | None:
        return next((s.error for s in self.steps if s.error), None)


def read_runs(lake: Lake) -> list[StepRecord]:
    return [StepRecord.from_row(r) for r in read_rows(lake, RUNS)]


def run_status(steps: Iterable[StepRecord], *, active: bool) -> str:
    """A run's status from its steps': failed > abandoned > running > skipped > succeeded.

    A ``running`` step of a run that does not hold the lock (``active`` False) belongs to a run
    that died; it is reported as abandoned before the next run gets to mark it so.
    """
    statuses = {s.status for s in steps}
    if StepStatus.FAILED in statuses:
        return StepStatus.FAILED.value
    if StepStatus.ABANDONED in statuses:
        return StepStatus.ABANDONED.value
    if StepStatus.RUNNING in statuses:
        return StepStatus.RUNNING.value if active else StepStatus.ABANDONED.value
    if statuses == {StepStatus.SKIPPED.value}:
        return StepStatus.SKIPPED.value
    return StepStatus.SUCCEEDED.value


def summarise_runs(
    records: Iterable[StepRecord], *, active_run: str | None = None
) -> list[RunSummary]:
    """Runs, newest first; steps within a run in the order they started."""
    by_run: dict[str, list[StepRecord]] = defaultdict(list)
    for rec in records:
        by_run[rec.run_id].append(rec)
    out = []
    for run_id, steps in by_run.items():
        steps.sort(key=lambda s: s.started_at)
        ends = [s.finished_at for s in steps]
        out.append(
            RunSummary(
                run_id=run_id,
                date=steps[0].logical_date,
                status=run_status(steps, active=run_id == active_run),
                steps=tuple(steps),
                started_at=steps[0].started_at,
                finished_at=None if None in ends else max(e for e in ends if e is not None),
            )
        )
    out.sort(key=lambda r: r.started_at, reverse=True)
    return out


# ---------------------------------------------------------------------- data quality


@dataclass(frozen=True)
class DqOutcome:
    """One validation of one table (all rule results of a run for that table)."""

    table: str
    run_id: str
    checked_at: dt.datetime
    rules: int
    passed: int
    failed_by_action: Mapping[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failed_by_action.values())

    @property
    def status(self) -> str:
        """``fail`` (a fail rule broke), ``quarantine``/``drop``/``warn`` (the strongest action
        among broken rules), or ``pass``."""
        for action in ("fail", "quarantine", "drop", "warn"):
            if self.failed_by_action.get(action):
                return action
        return "pass"

    def detail(self) -> str:
        """``17 rules`` when all passed, else ``2 of 19 rules broken (1 fail, 1 warn)``."""
        if not self.failed:
            return f"{self.rules} rules"
        broken = ", ".join(f"{n} {a}" for a, n in sorted(self.failed_by_action.items()))
        return f"{self.failed} of {self.rules} rules broken ({broken})"

    def describe(self) -> str:
        """``pass (17 rules)`` or ``fail: 2 of 19 rules broken (1 fail, 1 warn)``."""
        return f"pass ({self.detail()})" if not self.failed else f"{self.status}: {self.detail()}"


def validations(rows: Iterable[Mapping[str, Any]]) -> list[DqOutcome]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["table"], r["run_id"])].append(r)
    out = []
    for (table, run_id), results in groups.items():
        failed: dict[str, int] = defaultdict(int)
        for r in results:
            if not r["passed"]:
                failed[r["action"]] += 1
        out.append(
            DqOutcome(
                table=table,
                run_id=run_id,
                checked_at=max(r["checked_at"] for r in results),
                rules=len(results),
                passed=sum(1 for r in results if r["passed"]),
                failed_by_action=dict(failed),
            )
        )
    return out


_DQ_COLUMNS = ("run_id", "table", "action", "passed", "checked_at")


def dq_outcomes(
    lake: Lake, rows: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, DqOutcome]:
    """The latest validation of each table in ``ops.dq_results``."""
    rows = rows if rows is not None else read_rows(lake, DQ_RESULTS, _DQ_COLUMNS)
    latest: dict[str, DqOutcome] = {}
    for o in validations(rows):
        if o.table not in latest or o.checked_at > latest[o.table].checked_at:
            latest[o.table] = o
    return dict(sorted(latest.items()))


@dataclass(frozen=True)
class DqRunTotals:
    """Every rule result of one run, summed over its tables."""

    run_id: str
    date: str
    rules: int
    passed: int
    failed_by_action: Mapping[str, int]


def dq_trend(
    lake: Lake,
    runs: Sequence[RunSummary],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> list[DqRunTotals]:
    """Data-quality totals of ``runs`` (oldest first), for those that validated anything."""
    rows = rows if rows is not None else read_rows(lake, DQ_RESULTS, _DQ_COLUMNS)
    per_run: dict[str, list[DqOutcome]] = defaultdict(list)
    for o in validations(rows):
        per_run[o.run_id].append(o)
    out = []
    for run in sorted(runs, key=lambda r: r.started_at):
        outcomes = per_run.get(run.run_id)
        if not outcomes:
            continue
        failed: dict[str, int] = defaultdict(int)
        for o in outcomes:
            for action, n in o.failed_by_action.items():
                failed[action] += n
        out.append(
            DqRunTotals(
                run_id=run.run_id,
                date=run.date,
                rules=sum(o.rules for o in outcomes),
                passed=sum(o.passed for o in outcomes),
                failed_by_action=dict(failed),
            )
        )
    return out


# ---------------------------------------------------------------------- history


# Commit parameters too long or too internal for a one-line summary.
_NOISY_PARAMETERS = frozenset(
    {
        "metadata",
        "protocol",
        "location",
        "matchedPredicates",
        "notMatchedPredicates",
        "notMatchedBySourcePredicates",
    }
)


@dataclass(frozen=True)
class Commit:
    version: int
    timestamp: dt.datetime | None
    operation: str
    parameters: Mapping[str, Any]
    metrics: Mapping[str, Any]
    app_ids: tuple[str, ...]  # application transactions committed with it ("<appId>@<v>")
    run_id: str | None  # the run whose step recorded this version in ops.runs

    def summary(self, width: int = 90) -> str:
        """Parameters and non-zero metrics as ``key=value`` pairs, long values cut."""
        parts = [
            f"{key}={value}"
            for key, value in self.metrics.items()
            if isinstance(value, int | float) and value and "time" not in key and "_ms" not in key
        ]
        for key, value in self.parameters.items():
            if key in _NOISY_PARAMETERS or value in ("[]", "", None):
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            parts.append(f"{key}={text if len(text) <= 60 else text[:59] + '…'}")
        text = "; ".join(parts)
        return text if len(text) <= width else text[: width - 1] + "…"


def _app_ids(location: str, version: int) -> tuple[str, ...]:
    """``txn`` actions of one commit, read from its JSON file (gone after log cleanup)."""
    path = Path(location) / "_delta_log" / f"{version:020d}.json"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    out = []
    for line in lines:
        if '"txn"' not in line:
            continue
        txn = json.loads(line).get("txn")
        if txn:
            out.append(f"{txn.get('appId')}@{txn.get('version')}")
    return tuple(out)


def version_runs(records: Iterable[StepRecord]) -> dict[tuple[str, int], str]:
    """(table, version) -> the run whose succeeded step produced it."""
    out: dict[tuple[str, int], str] = {}
    for rec in sorted(records, key=lambda r: r.started_at):
        if rec.status != StepStatus.SUCCEEDED:
            continue
        for table, version in rec.table_versions.items():
            out.setdefault((table, int(version)), rec.run_id)
    return out


def table_history(lake: Lake, table: str, limit: int | None = None) -> list[Commit]:
    """The table's commits, newest first (``limit`` of them)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError
    from deltalake.exceptions import TableNotFoundError as RsTableNotFoundError

    split_name(table)  # a clear error for a malformed name
    location = lake.location(table)
    if not (Path(location) / "_delta_log").is_dir():
        known = ", ".join(lake.tables()) or "none"
        raise TableNotFoundError(f"{table}: no Delta table at {location} (tables: {known})")
    try:
        commits = DeltaTable(location).history(limit)
    except (DeltaError, RsTableNotFoundError) as exc:
        raise DeltaTableError(f"history of {table} at {location}: {exc}") from exc
    producers = version_runs(read_runs(lake))
    out = []
    for c in commits:
        version = int(c["version"])
        stamp = c.get("timestamp")
        out.append(
            Commit(
                version=version,
                timestamp=dt.datetime.fromtimestamp(stamp / 1000, dt.UTC) if stamp else None,
                operation=str(c.get("operation", "")),
                parameters=dict(c.get("operationParameters") or {}),
                metrics=dict(c.get("operationMetrics") or {}),
                app_ids=_app_ids(location, version),
                run_id=producers.get((table, version)),
            )
        )
    return out


# ---------------------------------------------------------------------- rendering


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        cells = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  " + "  ".join(cells).rstrip()

    return [line(headers)] + [line(r) for r in rows]


def format_when(stamp: dt.datetime | None) -> str:
    return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if stamp else ""


def format_age(stamp: dt.datetime | None, now: dt.datetime) -> str:
    if stamp is None:
        return ""
    seconds = max(0, int((now - stamp).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def render_status(lake: Lake, *, runs: int = 10, now: dt.datetime | None = None) -> str:
    """The text of ``lakehouse status``: lock, recent runs, per-table freshness and DQ."""
    from crm_lakehouse.catalog import list_tables

    now = now or dt.datetime.now(dt.UTC)
    holder: LockInfo | None = read_lock(lake.root)
    lines = [f"lake {lake.root}"]
    lines.append(
        f"lock: held by {holder.describe()}" if holder else "lock: free (no run in progress)"
    )
    summaries = summarise_runs(read_runs(lake), active_run=holder.run_id if holder else None)
    lines += ["", f"recent runs ({min(runs, len(summaries))} of {len(summaries)}, newest first)"]
    if summaries:
        rows = [
            (
                r.run_id,
                r.date,
                r.status,
                " ".join(f"{s.step}:{STEP_MARK.get(s.status, s.status)}" for s in r.steps),
                format_when(r.started_at),
                "" if r.duration_s is None else f"{r.duration_s:.1f} s",
            )
            for r in summaries[:runs]
        ]
        lines += _table(
            ("run id", "date", "status", "steps", "started (UTC)", "duration"), rows, {5}
        )
        failed = next((r for r in summaries[:runs] if r.error), None)
        if failed is not None:
            lines.append(f"  latest error ({failed.run_id}): {failed.error}")
    else:
        lines.append("  none recorded yet")
    tables = list_tables(lake)
    dq = dq_outcomes(lake)
    lines += ["", f"tables ({len(tables)}): freshness and latest data-quality outcome"]
    if tables:
        rows = [
            (
                t.table,
                "?" if t.version is None else str(t.version),
                "?" if t.rows is None else f"{t.rows:,}",
                format_when(t.last_updated),
                format_age(t.last_updated, now),
                dq[t.table].describe() if t.table in dq else ("-" if not t.error else t.error),
            )
            for t in tables
        ]
        lines += _table(
            ("table", "version", "rows", "last commit (UTC)", "age", "data quality"),
            rows,
            {1, 2, 4},
        )
    else:
        lines.append("  none")
    return "\n".join(lines)


def render_history(lake: Lake, table: str, limit: int | None = None) -> str:
    """The text of ``lakehouse history T``."""
    commits = table_history(lake, table, limit)
    rows = [
        (
            str(c.version),
            format_when(c.timestamp),
            c.operation,
            c.run_id or "",
            ", ".join(c.app_ids),
            c.summary(),
        )
        for c in commits
    ]
    head = f"{table} at {lake.location(table)}: {len(commits)} commit(s), newest first"
    return "\n".join(
        [
            head,
            *_table(
                ("version", "timestamp (UTC)", "operation", "run", "txn app id", "summary"),
                rows,
                {0},
            ),
        ]
    )
