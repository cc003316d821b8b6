"""The nightly run as a scheduler drives it: ``lakehouse run`` through ``cli.main`` on real Spark
and Delta tables, over a few small generated days.

One lake is built once for the module (``nightly``), and every scenario is played on it in
order: a clean day, an idempotent rerun, a refused second run (lock held), a bronze-only
backfill that stops at an injected failure, a day whose Gold step fails on a contract and its
resume, a full refresh, then ``status`` and ``history``. A second lake (``killed``) is built by a
``lakehouse run`` subprocess that is SIGKILLed while Silver runs, then rerun: its data tables
must equal the first lake's after the same day. Only our own step functions are patched to
inject failures; Spark and Delta stay real.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse import pipeline
from crm_lakehouse.cli import main
from crm_lakehouse.config import Settings, Step
from crm_lakehouse.errors import ContractFailed
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import StepRecord
from crm_lakehouse.ops.lock import LOCK_FILE, LakeLock, read_lock
from crm_lakehouse.ops.status import read_rows, read_runs
from crm_lakehouse.steps import StepContext, StepOutcome
from crm_lakehouse.synthetic import generate

from ..conftest import CONF, ROOT

D1, D2, D3, D4 = "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"
SCALE = 300
SEED = 5
# Columns that name the run or the moment that wrote a row, not the data.
RUN_COLUMNS = {"_run_id", "_ingested_at", "_quarantined_at", "_original_run_id"}
# Scorecards of the run history (one row per run and table), not data derived from the inputs.
HISTORY_TABLES = {"gold.data_quality"}

OVERLAY = """\
# Test environment: like local, sized for a 2-core CI machine.
spark:
  master: "local[2]"
  shuffle_partitions: 2
  conf:
    spark.default.parallelism: "2"
    spark.driver.memory: "1g"
delta:
  adapter: delta_rs
"""


@dataclasses.dataclass
class Cli:
    code: int
    out: str
    err: str

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.err.splitlines()]

    def event(self, name: str, **match: Any) -> dict[str, Any]:
        found = [
            e
            for e in self.events()
            if e["event"] == name and all(e.get(k) == v for k, v in match.items())
        ]
        assert len(found) == 1, (name, match, self.err[-3000:])
        return found[0]


@dataclasses.dataclass
class Env:
    root: Path
    conf: Path
    landing: Path
    reports: Path

    def args(self, lake: Path) -> list[str]:
        return [
            "--conf-dir",
            str(self.conf),
            "--env",
            "test",
            "--lake",
            str(lake),
            "--landing",
            str(self.landing),
            "--contracts",
            str(ROOT / "contracts"),
            "--reports",
            str(self.reports),
        ]

    def cli(self, lake: Path, *argv: str) -> Cli:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, *self.args(lake)])
        return Cli(code, out.getvalue(), err.getvalue())


def _versions(lake: Lake) -> dict[str, int]:
    from deltalake import DeltaTable

    return {t: DeltaTable(lake.location(t)).version() for t in lake.tables()}


def _data_tables(lake: Lake) -> list[str]:
    return [t for t in lake.tables() if not t.startswith("ops.")]


def _content(lake: Lake) -> dict[str, list[str]]:
    """Every data table's rows (run columns left out), as sorted canonical JSON."""
    out = {}
    for table in _data_tables(lake):
        if table in HISTORY_TABLES:
            continue
        rows = [
            json.dumps(
                {k: v for k, v in r.items() if k not in RUN_COLUMNS}, sort_keys=True, default=str
            )
            for r in read_rows(lake, table)
        ]
        out[table] = sorted(rows)
    return out


def _run(records: list[StepRecord], run_id: str) -> dict[str, StepRecord]:
    """One run's steps, in the order they started."""
    mine = sorted((r for r in records if r.run_id == run_id), key=lambda r: r.started_at)
    return {r.step: r for r in mine}


def _run_ids(cli: Cli) -> list[str]:
    return [e["run_id"] for e in cli.events() if e["event"] == "run_started"]


@dataclasses.dataclass
class OpsWorld:
    env: Env
    lake: Lake
    first: Cli
    versions_first: dict[str, int]
    content_first: dict[str, list[str]]
    rerun: Cli
    versions_rerun: dict[str, int]
    locked: Cli
    backfill: Cli
    gold_fails: Cli
    versions_before_fail: dict[str, int]
    versions_after_fail: dict[str, int]
    resumed: Cli
    versions_resumed: dict[str, int]
    refreshed: Cli
    gold_saw_full_refresh: list[bool]
    status: Cli
    history: Cli


def _fail_on(date: str, real: Callable[[StepContext], StepOutcome], what: str) -> Callable[[StepContext], StepOutcome]:  # fmt: skip
    def step(ctx: StepContext) -> StepOutcome:
        if ctx.date == date:
            raise RuntimeError(f"injected {what} failure for {date}")
        return real(ctx)

    return step


@pytest.fixture(scope="module")
def ops_env(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("ops_run")
    conf = root / "conf"
    conf.mkdir()
    shutil.copy(CONF / "base.yaml", conf / "base.yaml")
    shutil.copytree(CONF / "rules", conf / "rules")
    (conf / "test.yaml").write_text(OVERLAY, encoding="utf-8")
    landing = root / "landing"
    for day in (D1, D2, D3, D4):
        generate(landing, scale=SCALE, seed=SEED, date=day, faults=base_settings.generator.faults)
    return Env(root, conf, landing, root / "reports")


@pytest.fixture(scope="module")
def nightly(spark: SparkSession, ops_env: Env) -> OpsWorld:
    lake_root = ops_env.root / "lake"
    lake = Lake(lake_root)
    first = ops_env.cli(lake_root, "run", "--date", D1)
    versions_first, content_first = _versions(lake), _content(lake)
    rerun = ops_env.cli(lake_root, "run", "--date", D1)
    versions_rerun = _versions(lake)
    with LakeLock(lake_root, "holding-run", heartbeat_seconds=None):
        locked = ops_env.cli(lake_root, "run", "--date", D1)
    with pytest.MonkeyPatch.context() as mp:
        bronze = pipeline.STEP_FUNCTIONS[Step.BRONZE]
        mp.setitem(pipeline.STEP_FUNCTIONS, Step.BRONZE, _fail_on(D3, bronze, "bronze"))
        backfill = ops_env.cli(lake_root, "run", "--from", D2, "--to", D4, "--steps", "bronze")
    versions_before_fail = _versions(lake)
    with pytest.MonkeyPatch.context() as mp:

        def gold_breaks(ctx: StepContext) -> StepOutcome:
            raise ContractFailed("gold.pipeline_summary", [("gold.injected", "3 rows", "none")])

        mp.setitem(pipeline.STEP_FUNCTIONS, Step.GOLD, gold_breaks)
        gold_fails = ops_env.cli(lake_root, "run", "--date", D2)
    versions_after_fail = _versions(lake)
    resumed = ops_env.cli(lake_root, "run", "--date", D2)
    versions_resumed = _versions(lake)
    saw: list[bool] = []
    with pytest.MonkeyPatch.context() as mp:

        def gold_notes(ctx: StepContext) -> StepOutcome:
            saw.append(ctx.full_refresh)
            return StepOutcome()

        mp.setitem(pipeline.STEP_FUNCTIONS, Step.GOLD, gold_notes)
        refreshed = ops_env.cli(lake_root, "run", "--date", D2, "--steps", "gold", "--full-refresh")
    status = ops_env.cli(lake_root, "status", "--runs", "20")
    history = ops_env.cli(lake_root, "history", "silver.company_records")
    return OpsWorld(
        ops_env, lake, first, versions_first, content_first, rerun, versions_rerun, locked,
        backfill, gold_fails, versions_before_fail, versions_after_fail, resumed,
        versions_resumed, refreshed, saw, status, history,
    )  # fmt: skip


# ---------------------------------------------------------------------- a clean day


def test_a_clean_run_succeeds_and_logs_json_lines_with_the_run_id(nightly: OpsWorld) -> None:
    assert nightly.first.code == 0, nightly.first.err[-3000:]
    events = nightly.first.events()  # every stderr line is one JSON object
    (run_id,) = _run_ids(nightly.first)
    start = next(i for i, e in enumerate(events) if e["event"] == "run_started")
    end = next(i for i, e in enumerate(events) if e["event"] == "run_finished")
    assert all(e.get("run_id") == run_id for e in events[start : end + 1])
    for i, step in enumerate(("bronze", "silver", "gold"), start=1):
        started = nightly.first.event("step_started", step=step)
        assert (started["step_index"], started["step_count"]) == (i, 3)
        done = nightly.first.event("step_finished", step=step)
        assert done["status"] == "succeeded" and done["duration_s"] > 0
        assert {"rows_in", "rows_out", "rows_dropped", "rows_quarantined"} <= set(done)
        assert done["table_versions"] and "input_fingerprint" in done["metrics"]
    assert nightly.first.event("step_finished", step="bronze")["rows_out"] > 0
    assert nightly.first.event("run_finished")["status"] == "succeeded"
    assert f"run {run_id} for {D1}: succeeded" in nightly.first.out


def test_the_run_ledger_has_every_column_filled(nightly: OpsWorld) -> None:
    (run_id,) = _run_ids(nightly.first)
    steps = _run(read_runs(nightly.lake), run_id)
    assert list(steps) == ["bronze", "silver", "gold"]
    for rec in steps.values():
        assert rec.status == "succeeded" and rec.error is None
        assert rec.finished_at is not None and rec.finished_at >= rec.started_at
        assert None not in (rec.rows_in, rec.rows_out, rec.rows_dropped, rec.rows_quarantined)
        for table, version in rec.table_versions.items():
            assert nightly.versions_first[table] >= version
    bronze_rows = sum(
        len(rows) for t, rows in nightly.content_first.items() if t.startswith("bronze.")
    )
    assert steps["bronze"].rows_out == bronze_rows > 0


def test_a_html_report_is_written_for_the_run(nightly: OpsWorld) -> None:
    (run_id,) = _run_ids(nightly.first)
    path = nightly.env.reports / "runs" / f"{run_id}.html"
    logged = nightly.first.event("report_written")
    assert logged["path"] == str(path) and logged["run_id"] == run_id
    page = path.read_text(encoding="utf-8")
    for section in ("summary", "steps", "row-flow", "quarantine", "data-quality", "dq-trend", "freshness"):  # fmt: skip
        assert f'<section id="{section}">' in page
    assert "silver.companies" in page and "<svg" in page
    latest = (nightly.env.reports / "runs" / "latest.html").read_text(encoding="utf-8")
    assert "<h1>Run " in latest  # overwritten by every later run


# ---------------------------------------------------------------------- rerun and lock


def test_rerunning_a_completed_date_skips_every_step_and_moves_no_table(nightly: OpsWorld) -> None:
    assert nightly.rerun.code == 0, nightly.rerun.err[-3000:]
    (first_id,) = _run_ids(nightly.first)
    (run_id,) = _run_ids(nightly.rerun)
    steps = _run(read_runs(nightly.lake), run_id)
    assert {s: r.status for s, r in steps.items()} == {
        "bronze": "skipped",
        "silver": "skipped",
        "gold": "skipped",
    }
    assert all(r.metrics["succeeded_in_run"] == first_id for r in steps.values())
    changed = {
        t for t in nightly.versions_first if nightly.versions_rerun[t] != nightly.versions_first[t]
    }
    assert changed == {"ops.runs"}  # only the ledger records the rerun
    assert nightly.rerun.event("run_finished")["status"] == "skipped"


def test_a_second_run_is_refused_while_the_lock_is_held(nightly: OpsWorld) -> None:
    assert nightly.locked.code == 5
    failure = nightly.locked.event("command_failed")
    assert failure["exit_code"] == 5
    assert "run holding-run" in failure["msg"] and f"pid {os.getpid()}" in failure["msg"]
    assert "since " in failure["msg"] and "host " in failure["msg"]
    assert _run_ids(nightly.locked) == []  # nothing ran


# ---------------------------------------------------------------------- backfill and failures


def test_backfill_runs_dates_in_order_and_stops_at_the_first_failure(nightly: OpsWorld) -> None:
    assert nightly.backfill.code == 1
    ids = _run_ids(nightly.backfill)
    assert [i[:10] for i in ids] == [D2, D3]  # D4 never started
    records = read_runs(nightly.lake)
    d2, d3 = _run(records, ids[0]), _run(records, ids[1])
    assert list(d2) == ["bronze"] and d2["bronze"].status == "succeeded"
    assert d3["bronze"].status == "failed"
    assert d3["bronze"].error == f"RuntimeError: injected bronze failure for {D3}"
    assert d2["bronze"].finished_at <= d3["bronze"].started_at  # type: ignore[operator]
    assert not [r for r in records if r.logical_date == D4]
    failed = nightly.backfill.event("step_failed")
    assert failed["run_id"] == ids[1] and "Traceback" in failed["traceback"]
    assert nightly.backfill.event("command_failed")["exit_code"] == 1
    # Each date's report was written, the failed one too.
    for run_id in ids:
        assert (nightly.env.reports / "runs" / f"{run_id}.html").is_file()


def test_a_contract_failure_exits_4_and_keeps_earlier_tiers_published(nightly: OpsWorld) -> None:
    assert nightly.gold_fails.code == 4
    (run_id,) = _run_ids(nightly.gold_fails)
    steps = _run(read_runs(nightly.lake), run_id)
    assert {s: r.status for s, r in steps.items()} == {
        "bronze": "skipped",  # succeeded in the backfill with the same files
        "silver": "succeeded",
        "gold": "failed",
    }
    assert steps["gold"].error.startswith("ContractFailed: gold.pipeline_summary")  # type: ignore[union-attr]
    failed = nightly.gold_fails.event("step_failed")
    assert failed["step"] == "gold" and "traceback" not in failed  # an expected failure
    assert nightly.gold_fails.event("command_failed")["exit_code"] == 4
    before, after = nightly.versions_before_fail, nightly.versions_after_fail
    gold = [t for t in before if t.startswith("gold.")]
    assert gold and all(after[t] == before[t] for t in gold)  # Gold untouched
    assert after["silver.companies"] > before["silver.companies"]  # Silver published
    page = (nightly.env.reports / "runs" / f"{run_id}.html").read_text(encoding="utf-8")
    assert "gold.injected" in page  # the report of a failed run shows why


def test_rerunning_a_failed_date_resumes_at_the_failed_step(nightly: OpsWorld) -> None:
    assert nightly.resumed.code == 0, nightly.resumed.err[-3000:]
    (failed_id,) = _run_ids(nightly.gold_fails)
    (run_id,) = _run_ids(nightly.resumed)
    steps = _run(read_runs(nightly.lake), run_id)
    assert {s: r.status for s, r in steps.items()} == {
        "bronze": "skipped",
        "silver": "skipped",
        "gold": "succeeded",
    }
    assert steps["silver"].metrics["succeeded_in_run"] == failed_id
    failed, resumed = nightly.versions_after_fail, nightly.versions_resumed
    assert all(resumed[t] == failed[t] for t in failed if t.startswith(("bronze.", "silver.")))
    assert any(resumed[t] > failed[t] for t in resumed if t.startswith("gold."))


def test_full_refresh_runs_a_step_that_already_succeeded_and_tells_it(nightly: OpsWorld) -> None:
    assert nightly.refreshed.code == 0
    assert nightly.gold_saw_full_refresh == [True]
    (run_id,) = _run_ids(nightly.refreshed)
    assert _run(read_runs(nightly.lake), run_id)["gold"].status == "succeeded"
    assert nightly.refreshed.event("run_started")["full_refresh"] is True


# ---------------------------------------------------------------------- status and history


def test_status_shows_runs_freshness_and_data_quality(nightly: OpsWorld) -> None:
    assert nightly.status.code == 0
    out = nightly.status.out
    assert "lock: free" in out
    for cli, status in (
        (nightly.first, "succeeded"),
        (nightly.rerun, "skipped"),
        (nightly.gold_fails, "failed"),
        (nightly.resumed, "succeeded"),
    ):
        (run_id,) = _run_ids(cli)
        (line,) = [ln for ln in out.splitlines() if ln.startswith(f"  {run_id}")]
        assert f" {status} " in line
    (line,) = [ln for ln in out.splitlines() if ln.startswith("  silver.company_records ")]
    version = nightly.versions_resumed["silver.company_records"]
    assert f" {version} " in line and ("pass (" in line or "rules broken" in line)


def test_history_lists_commits_with_runs_and_transaction_ids(nightly: OpsWorld) -> None:
    assert nightly.history.code == 0
    lines = nightly.history.out.splitlines()
    assert lines[0].startswith("silver.company_records at ")
    (first_id,) = _run_ids(nightly.first)
    # A record table's first load is an append (WRITE); later loads MERGE into it.
    writes = [ln for ln in lines if " WRITE " in ln or " MERGE " in ln]
    assert writes and any(first_id in ln for ln in writes)
    assert any(f"silver:silver.company_records:{D1}:" in ln for ln in writes)


def test_bad_arguments_exit_2_without_running(ops_env: Env, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert main(["run", "--date", D1, "--from", D1, "--to", D2, *ops_env.args(lake)]) == 2
    assert main(["run", *ops_env.args(lake)]) == 2
    assert main(["run", "--date", "2026-13-01", *ops_env.args(lake)]) == 2
    assert main(["run", "--from", D2, *ops_env.args(lake)]) == 2
    assert main(["run", "--from", D2, "--to", D1, *ops_env.args(lake)]) == 2
    assert main(["run", "--date", D1, "--steps", "platinum", *ops_env.args(lake)]) == 2
    assert main(["run", "--date", D1, *ops_env.args(lake), "--env", "nope"]) == 2
    assert not lake.exists()


# ---------------------------------------------------------------------- killed mid-step


@dataclasses.dataclass
class Killed:
    lake: Lake
    run_id: str
    at_kill: dict[str, StepRecord]
    lock_at_kill: Any
    tables_at_kill: list[str]
    rerun: Cli


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 1200
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"lakehouse run exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def killed(nightly: OpsWorld, ops_env: Env) -> Killed:
    lake_root = ops_env.root / "killed_lake"
    log_path = ops_env.root / "killed.stderr"
    cli = Path(sys.executable).with_name("lakehouse")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(cli), "run", "--date", D1, *ops_env.args(lake_root)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own process group: the JVM dies with it
            env={**os.environ, "TZ": "UTC"},
        )
    try:

        def silver_started() -> bool:
            return '"event": "step_started"' in log_path.read_text(errors="replace") and (
                '"step": "silver"' in log_path.read_text(errors="replace")
            )

        _wait_for(silver_started, proc, "step silver started")
        # Kill once Silver has committed something, so the kill leaves a half-done step.
        _wait_for(
            lambda: any(lake_root.glob("silver/*/_delta_log/00000000000000000001.json")),
            proc,
            "a Silver commit",
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lake = Lake(lake_root)
    events = [json.loads(ln) for ln in log_path.read_text().splitlines() if ln.startswith("{")]
    run_id = next(e["run_id"] for e in events if e["event"] == "run_started")
    at_kill = _run(read_runs(lake), run_id)
    lock_at_kill = read_lock(lake_root)
    tables_at_kill = lake.tables()
    rerun = ops_env.cli(lake_root, "run", "--date", D1)
    return Killed(lake, run_id, at_kill, lock_at_kill, tables_at_kill, rerun)


def test_a_run_killed_during_silver_leaves_its_lock_and_a_running_step(killed: Killed) -> None:
    assert {s: r.status for s, r in killed.at_kill.items()} == {
        "bronze": "succeeded",
        "silver": "running",
    }
    assert killed.lock_at_kill is not None and killed.lock_at_kill.run_id == killed.run_id
    # Bronze is published, Silver partly written, Gold untouched.
    tiers = {t.split(".")[0] for t in killed.tables_at_kill}
    assert {"bronze", "silver"} <= tiers and "gold" not in tiers
    assert not (killed.lake.root / LOCK_FILE).exists()  # the rerun released its own lock


def test_the_rerun_takes_over_the_stale_lock_and_resumes(killed: Killed) -> None:
    assert killed.rerun.code == 0, killed.rerun.err[-3000:]
    takeover = killed.rerun.event("lock_taken_over")
    assert takeover["stale_holder"]["run_id"] == killed.run_id
    records = read_runs(killed.lake)
    dead = _run(records, killed.run_id)
    assert dead["silver"].status == "abandoned" and "found by run" in dead["silver"].error  # type: ignore[operator]
    (run_id,) = _run_ids(killed.rerun)
    steps = _run(records, run_id)
    assert {s: r.status for s, r in steps.items()} == {
        "bronze": "skipped",
        "silver": "succeeded",
        "gold": "succeeded",
    }


def test_the_resumed_lake_equals_a_clean_run(nightly: OpsWorld, killed: Killed) -> None:
    resumed = _content(killed.lake)
    assert set(resumed) == set(nightly.content_first)
    different = [t for t in resumed if resumed[t] != nightly.content_first[t]]
    assert different == []
    assert sum(len(rows) for rows in resumed.values()) > SCALE
