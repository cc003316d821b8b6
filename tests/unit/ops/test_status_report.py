"""``lakehouse status``/``history`` and the HTML run report, over a small real lake.

The lake is written with delta-rs directly (no Spark needed): ``ops.runs`` and
``ops.dq_results`` with the schemas the pipeline writes, a data table with an application
transaction, and a quarantine table.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import CommitProperties, Transaction, write_deltalake
from pyspark.sql.pandas.types import to_arrow_schema

from crm_lakehouse.cli import main
from crm_lakehouse.contracts.results import DQ_RESULTS as CONTRACTS_DQ_RESULTS
from crm_lakehouse.contracts.results import DQ_RESULTS_SCHEMA
from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import RUNS, RUNS_SCHEMA, StepRecord
from crm_lakehouse.ops.lock import LakeLock
from crm_lakehouse.ops.report import render_run_report, write_run_report
from crm_lakehouse.ops.status import (
    DQ_RESULTS,
    dq_outcomes,
    dq_trend,
    read_runs,
    render_history,
    render_status,
    summarise_runs,
    table_history,
)

from ...conftest import CONF

R1, R2, R3 = "2026-11-19_run1", "2026-11-20_run2", "2026-11-20_run3"
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
TXN = "silver:silver.companies:2026-11-19:abc123"


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _step(
    run_id: str, date: str, step: str, status: str, start: float, end: float | None, **kw: object
) -> StepRecord:
    return StepRecord(
        run_id=run_id,
        logical_date=date,
        step=step,
        status=status,
        started_at=_at(start),
        finished_at=_at(end) if end is not None else None,
        **kw,  # type: ignore[arg-type]
    )


RUN_ROWS = [
    _step(
        R1,
        "2026-11-19",
        "bronze",
        "succeeded",
        0,
        1,
        rows_in=120,
        rows_out=110,
        rows_dropped=0,
        rows_quarantined=0,
        table_versions={"bronze.salesforce_accounts": 1},
    ),
    _step(
        R1,
        "2026-11-19",
        "silver",
        "succeeded",
        1,
        4,
        rows_in=110,
        rows_out=100,
        rows_dropped=4,
        rows_quarantined=1,
        table_versions={"silver.companies": 1},
    ),
    _step(
        R1,
        "2026-11-19",
        "gold",
        "succeeded",
        4,
        5,
        rows_in=100,
        rows_out=12,
        rows_dropped=0,
        rows_quarantined=0,
    ),
    _step(
        R2,
        "2026-11-20",
        "bronze",
        "skipped",
        10,
        10,
        table_versions={"bronze.salesforce_accounts": 1},
        metrics={"succeeded_in_run": R1},
    ),
    _step(
        R2,
        "2026-11-20",
        "silver",
        "failed",
        10,
        12,
        rows_quarantined=2,
        error="ContractFailed: silver.companies: <b>rule broken</b>",
    ),
    _step(R3, "2026-11-20", "bronze", "running", 20, None),
]


def _dq(run_id: str, table: str, rule: str, action: str, passed: bool, minute: float) -> tuple:  # type: ignore[type-arg]
    return (
        run_id,
        table,
        rule,
        "not_null",
        ["c"],
        action,
        passed,
        None,
        0,
        0.0,
        10,
        "none",
        "spark",
        None,
        _at(minute),
    )


DQ_ROWS = [
    _dq(R1, "silver.companies", "a", "fail", True, 3),
    _dq(R1, "silver.companies", "b", "warn", True, 3),
    _dq(R1, "silver.companies", "c", "quarantine", True, 3),
    _dq(R1, "bronze.salesforce_accounts", "d", "warn", False, 0.5),
    _dq(R1, "bronze.salesforce_accounts", "e", "warn", True, 0.5),
    _dq(R2, "silver.companies", "a", "fail", False, 11),
    _dq(R2, "silver.companies", "b", "warn", True, 11),
    _dq(R2, "silver.companies", "c", "quarantine", True, 11),
]


def _write(lake: Lake, table: str, rows: list[tuple], schema: pa.Schema, **kw: object) -> None:  # type: ignore[type-arg]
    data = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema)
    write_deltalake(lake.location(table), data, mode="append", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("ops_status") / "lake")
    _write(lake, RUNS, [r.as_row() for r in RUN_ROWS], to_arrow_schema(RUNS_SCHEMA, timezone="UTC"))
    _write(lake, DQ_RESULTS, DQ_ROWS, to_arrow_schema(DQ_RESULTS_SCHEMA, timezone="UTC"))
    companies = pa.schema([("company_id", pa.string())])
    _write(lake, "silver.companies", [("c0",)], companies)
    _write(
        lake,
        "silver.companies",
        [("c1",), ("c2",)],
        companies,
        commit_properties=CommitProperties(app_transactions=[Transaction(TXN, 1)]),
    )
    _write(lake, "bronze.salesforce_accounts", [("a",)], pa.schema([("Id", pa.string())]))
    _write(lake, "bronze.salesforce_accounts", [("b",)], pa.schema([("Id", pa.string())]))
    held = pa.schema([("_run_id", pa.string()), ("company_id", pa.string())])
    _write(lake, "silver.companies__quarantine", [(R1, "q1"), (R2, "q2"), (R2, "q3")], held)
    return lake


def test_ops_table_names_match_the_writers() -> None:
    assert DQ_RESULTS == CONTRACTS_DQ_RESULTS


def test_runs_are_grouped_newest_first_with_an_honest_status(lake: Lake) -> None:
    runs = summarise_runs(read_runs(lake))
    assert [(r.run_id, r.status) for r in runs] == [
        (R3, "abandoned"),  # running, but nobody holds the lock: it died
        (R2, "failed"),
        (R1, "succeeded"),
    ]
    assert [s.step for s in runs[2].steps] == ["bronze", "silver", "gold"]
    assert runs[2].duration_s == 300.0 and runs[0].duration_s is None
    assert runs[1].error == "ContractFailed: silver.companies: <b>rule broken</b>"
    active = summarise_runs(read_runs(lake), active_run=R3)
    assert active[0].status == "running"


def test_latest_data_quality_outcome_per_table(lake: Lake) -> None:
    dq = dq_outcomes(lake)
    assert set(dq) == {"silver.companies", "bronze.salesforce_accounts"}
    assert dq["silver.companies"].run_id == R2
    assert dq["silver.companies"].status == "fail"
    assert dq["silver.companies"].describe() == "fail: 1 of 3 rules broken (1 fail)"
    assert dq["bronze.salesforce_accounts"].describe() == "warn: 1 of 2 rules broken (1 warn)"
    trend = dq_trend(lake, summarise_runs(read_runs(lake)))
    assert [(t.run_id, t.rules, t.passed, dict(t.failed_by_action)) for t in trend] == [
        (R1, 5, 4, {"warn": 1}),
        (R2, 3, 2, {"fail": 1}),
    ]


def test_history_shows_app_transactions_and_the_producing_run(lake: Lake) -> None:
    commits = table_history(lake, "silver.companies")
    assert [c.version for c in commits] == [1, 0]
    assert commits[0].app_ids == (f"{TXN}@1",)
    assert commits[0].run_id == R1  # ops.runs: R1's silver step produced version 1
    assert commits[1].app_ids == () and commits[1].run_id is None
    assert commits[0].operation == "WRITE"
    text = render_history(lake, "silver.companies", limit=1)
    assert text.splitlines()[0].startswith("silver.companies at ")
    assert f"{TXN}@1" in text and R1 in text and len(text.splitlines()) == 3


def test_status_shows_lock_runs_freshness_and_quality(lake: Lake) -> None:
    now = dt.datetime.now(dt.UTC)
    text = render_status(lake, runs=2, now=now)
    assert "lock: free" in text
    run_lines = [line for line in text.splitlines() if line.startswith(f"  {R2}")]
    assert len(run_lines) == 1
    assert "failed" in run_lines[0] and "bronze:skipped silver:FAILED" in run_lines[0]
    assert "2.0 s" not in run_lines[0] and "120.0 s" in run_lines[0]
    assert R1 not in text.split("tables (")[0].split("latest error")[0]  # only 2 runs shown
    assert f"latest error ({R2}): ContractFailed" in text
    table_line = next(ln for ln in text.splitlines() if ln.startswith("  silver.companies "))
    assert re.search(r"silver\.companies\s+1\s+3\s", table_line)  # version 1, 3 rows
    assert table_line.endswith("fail: 1 of 3 rules broken (1 fail)")
    with LakeLock(lake.root, R3, heartbeat_seconds=None):
        held = render_status(lake)
    assert f"lock: held by run {R3}" in held
    assert re.search(rf"{R3}\s+2026-11-20\s+running", held)


def test_report_has_every_section_and_escapes_what_it_shows(lake: Lake) -> None:
    page = render_run_report(lake, R2)
    for section in (
        "summary",
        "steps",
        "row-flow",
        "quarantine",
        "data-quality",
        "dq-trend",
        "freshness",
    ):
        assert f'<section id="{section}">' in page, section
    assert "<script" not in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "&lt;b&gt;rule broken&lt;/b&gt;" in page and "<b>rule broken" not in page
    charts = re.findall(r"<svg.*?</svg>", page)
    assert len(charts) == 4  # timeline, row flow, dq trend, run durations
    for svg in charts:
        assert ET.fromstring(svg).tag.endswith("svg")  # well-formed XML
    # The skipped bronze step is explained, and its row flow comes from the run it succeeded in.
    assert f"succeeded before in run {R1} with the same inputs" in page
    assert f"bronze: figures of run {R1} (skipped in this run)" in page
    # Quarantine: rows held by this run and in total.
    assert re.search(
        r"silver\.companies__quarantine</td><td class=n>2</td><td class=n>3</td>", page
    )
    # This run's data quality, and the trend over both runs that validated.
    quality = page.split('<section id="data-quality">')[1].split("</section>")[0]
    assert "silver.companies" in quality and "1 of 3 rules broken (1 fail)" in quality
    trend = page.split('<section id="dq-trend">')[1].split("</section>")[0]
    assert R1 in trend and R2 in trend and "80.0%" in trend and "66.7%" in trend


def test_report_files_and_latest(lake: Lake, tmp_path: Path) -> None:
    path = write_run_report(lake, R1, tmp_path / "reports")
    assert path == tmp_path / "reports" / "runs" / f"{R1}.html"
    latest = tmp_path / "reports" / "runs" / "latest.html"
    assert latest.read_text() == path.read_text()
    first = path.read_text()
    assert "Run 2026-11-19_run1" in first
    # A report rebuilt for an older run ends its trends with that run.
    trend = first.split('<section id="dq-trend">')[1].split("</section>")[0]
    assert R1 in trend and R2 not in trend
    write_run_report(lake, R2, tmp_path / "reports")
    assert R2 in latest.read_text()
    with pytest.raises(KeyError, match="not recorded"):
        render_run_report(lake, "no-such-run")


def test_cli_status_and_history(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--conf-dir", str(CONF), "--lake", str(lake.root)]
    assert main(["status", *common, "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert R1 in out and R2 in out and "tables (" in out
    assert main(["history", "silver.companies", *common]) == 0
    assert f"{TXN}@1" in capsys.readouterr().out
    assert main(["history", "silver.nope", *common]) == 2
    assert "no table 'silver.nope'" in capsys.readouterr().err
    assert main(["status", *common, "--runs", "0"]) == 2  # argparse: not >= 1


def test_step_record_round_trips_through_a_row() -> None:
    rec = RUN_ROWS[1]
    names = RUNS_SCHEMA.names
    back = StepRecord.from_row(dict(zip(names, rec.as_row(), strict=True)))
    assert back == rec
    assert json.loads(rec.as_row()[names.index("table_versions")]) == {"silver.companies": 1}
