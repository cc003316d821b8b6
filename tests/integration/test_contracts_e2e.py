"""A bad delivery through the real pipeline with contracts enforced at every publish.

Day 1 is clean. Day 2 carries wrong types, missing required values, a duplicate key, invalid
emails and a negative revenue. Day 3 drops a declared column. Day 4 runs under a stricter
contract whose broken rule has action ``fail``. Each checks what was published, quarantined,
recorded in ops.dq_results and reported, and that a failure leaves Silver's version unchanged.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.cli import main
from crm_lakehouse.config import DeltaAdapterKind, Settings
from crm_lakehouse.contracts import load_contracts
from crm_lakehouse.contracts.guard import ContractGuard
from crm_lakehouse.contracts.replay import replay_quarantine
from crm_lakehouse.delta import DeltaPort, open_port
from crm_lakehouse.errors import ContractFailed, SchemaDriftError
from crm_lakehouse.lake import Lake
from crm_lakehouse.pipeline import run_steps

from ..conftest import CONF, ROOT

ACCOUNT_HEADER = (
    "Id,Name,Website,Phone,BillingStreet,BillingCity,BillingState,BillingPostalCode,"
    "BillingCountry,Industry,AnnualRevenue,NumberOfEmployees,OwnerId,IsDeleted,CreatedDate,"
    "LastModifiedDate"
)
CONTACT_HEADER = (
    "Id,AccountId,FirstName,LastName,Email,Phone,Title,MailingCountry,OwnerId,IsDeleted,"
    "CreatedDate,LastModifiedDate"
)
TS = "2026-11-{d}T09:00:00.000Z"


def _account(i: str, name: str, revenue: str, day: str, website: str = "acme{i}.com") -> str:
    site = website.format(i=i)
    return (
        f"001A0000000000{i},{name},{site},+1 415 555 01{i},1 Main St,Springfield,CA,94000,"
        f"United States,Technology,{revenue},120,005A00000000001AAA,false,{TS.format(d='01')},"
        f"{TS.format(d=day)}"
    )


def _contact(i: str, email: str, day: str) -> str:
    return (
        f"003A0000000000{i},001A0000000000{i},Ann,Lee{i},{email},+1 415 555 02{i},CFO,"
        f"United States,005A00000000001AAA,false,{TS.format(d='01')},{TS.format(d=day)}"
    )


def _deliver(landing: Path, date: str, name: str, lines: list[str]) -> None:
    folder = landing / "salesforce" / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _version(port: DeltaPort, lake: Lake, table: str) -> int:
    return port.version(lake.location(table))


def _results(port: DeltaPort, lake: Lake, run_id: str):  # type: ignore[no-untyped-def]
    return port.read(lake.location("ops.dq_results")).where(F.col("run_id") == run_id)


@pytest.fixture(scope="module")
def lake_env(
    spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("contracts_e2e")
    settings = base_settings.with_paths(landing=root / "landing", lake=root / "lake")
    port = open_port(spark, DeltaAdapterKind.DELTA_RS)
    return settings, port, Lake(settings.paths.lake), root


def test_bad_delivery_is_split_quarantined_recorded_and_gated(lake_env) -> None:  # type: ignore[no-untyped-def]
    settings, port, lake, root = lake_env
    landing = settings.paths.landing
    # Day 1: clean.
    _deliver(
        landing,
        "2026-11-20",
        "accounts.csv",
        [
            ACCOUNT_HEADER,
            _account("1", "Acme One", "1000000", "19"),
            _account("2", "Acme Two", "2000000", "19"),
        ],
    )
    _deliver(
        landing,
        "2026-11-20",
        "contacts.csv",
        [
            CONTACT_HEADER,
            _contact("1", "ann1@acme1.com", "19"),
            _contact("2", "ann2@acme2.com", "19"),
        ],
    )
    run_steps(port.spark, port, settings, "2026-11-20", run_id="day1")
    silver_v1 = _version(port, lake, "silver.company_records")

    # Day 2: negative revenue (quarantine), wrong type (null, published), missing name (warn),
    # the same account twice (the newer wins), and invalid emails (nulled with a reason).
    _deliver(
        landing,
        "2026-11-21",
        "accounts.csv",
        [
            ACCOUNT_HEADER,
            _account("3", "Acme Three", "-5000", "20"),
            _account("4", "Acme Four", "lots", "20"),
            _account("5", "", "3000000", "20"),
            _account("1", "Acme One", "1100000", "20"),
            _account("1", "Acme One Renamed", "1200000", "21"),
        ],
    )
    _deliver(
        landing,
        "2026-11-21",
        "contacts.csv",
        [
            CONTACT_HEADER,
            _contact("3", "not-an-email", "20"),
            _contact("4", "ann4@", "20"),
            _contact("5", "ann5@acme5.com", "20"),
        ],
    )
    dq_before = _version(port, lake, "ops.dq_results")
    run = run_steps(port.spark, port, settings, "2026-11-21", run_id="day2")
    silver = {s.step: s for s in run.steps}["silver"]
    # Results are appended once per step (plus the drift check before Silver), not per table.
    validated = _results(port, lake, "day2").select("table").distinct().count()
    assert _version(port, lake, "ops.dq_results") - dq_before <= len(run.steps) + 1 < validated
    assert silver.rows_quarantined >= 1
    # The run ledger says how long each validated table's contract took.
    by_table = silver.metrics["contract_seconds_by_table"]
    assert "silver.company_records" in by_table and all(v >= 0 for v in by_table.values())
    assert sum(by_table.values()) <= silver.metrics["contract_seconds"] + 0.01

    companies = {
        r["source_id"]: r for r in port.read(lake.location("silver.company_records")).collect()
    }
    assert "001A00000000003" not in companies  # negative revenue: held back
    assert companies["001A00000000004"]["revenue_usd"] is None  # wrong type: typed to null
    assert companies["001A00000000005"]["name"] is None  # missing value: published, warned
    assert companies["001A00000000001"]["name"] == "Acme One Renamed"  # duplicate key: newest
    held = port.read(lake.location("silver.company_records__quarantine")).collect()
    assert [r["source_id"] for r in held] == ["001A00000000003"]
    assert held[0]["_run_id"] == "day2"
    assert "silver.company_records.revenue_usd.range" in held[0]["_rule_ids"]
    assert any("revenue_usd" in reason for reason in held[0]["_reasons"])

    results = _results(port, lake, "day2")
    by_rule = {r["rule_id"]: r for r in results.collect()}
    rng = by_rule["silver.company_records.revenue_usd.range"]
    assert (rng["action"], rng["passed"], rng["unexpected_count"]) == ("quarantine", False, 1)
    assert by_rule["silver.company_records.name.not_null"]["passed"] is False
    assert by_rule["silver.person_records.emails_mostly_valid"]["passed"] is False
    # Results carry counts for PII columns, never their values.
    for r in results.collect():
        text = " ".join(str(v) for v in r.asDict().values() if v is not None)
        assert "not-an-email" not in text and "ann4@" not in text and "Lee3" not in text

    # Day 3: a declared column is missing from the delivery: schema drift, action fail.
    _deliver(
        landing,
        "2026-11-22",
        "accounts.csv",
        [
            ACCOUNT_HEADER.replace("Website,", ""),
            _account("6", "Acme Six", "100", "21").replace("acme6.com,", ""),
        ],
    )
    before = _version(port, lake, "silver.company_records")
    with pytest.raises(
        SchemaDriftError, match=r"bronze\.salesforce_accounts\.Website\.column_removed"
    ):
        run_steps(port.spark, port, settings, "2026-11-22", run_id="day3")
    assert _version(port, lake, "silver.company_records") == before
    bronze_day3 = port.read(lake.location("bronze.salesforce_accounts")).where(
        "_delivery_date = '2026-11-22'"
    )
    assert bronze_day3.count() == 1  # Bronze keeps the delivery; Silver never saw it
    drift = _results(port, lake, "day3").where(F.col("rule_kind") == "schema_removed").collect()
    assert [(r["rule_id"], r["action"]) for r in drift] == [
        ("bronze.salesforce_accounts.Website.column_removed", "fail")
    ]

    # Day 4: the same negative revenue under a contract that says fail: nothing published.
    strict = root / "strict_contracts"
    shutil.copytree(ROOT / "contracts", strict)
    path = strict / "silver" / "company_records.yaml"
    text = path.read_text()
    start = text.index("rule: range")
    end = text.index("value: quarantine", start)
    path.write_text(text[:end] + "value: fail" + text[end + len("value: quarantine") :])
    strict_settings = settings.with_paths(contracts=strict)
    _deliver(
        landing,
        "2026-11-23",
        "accounts.csv",
        [ACCOUNT_HEADER, _account("7", "Acme Seven", "-1", "22")],
    )
    before = _version(port, lake, "silver.company_records")
    with pytest.raises(ContractFailed) as failed:
        run_steps(port.spark, port, strict_settings, "2026-11-23", run_id="day4")
    message = str(failed.value)
    assert "silver.company_records" in message and "revenue_usd.range" in message
    assert "1 of 1" in message
    assert _version(port, lake, "silver.company_records") == before
    assert _version(port, lake, "silver.company_records") >= silver_v1
    recorded = (
        _results(port, lake, "day4")
        .where(F.col("rule_id") == "silver.company_records.revenue_usd.range")
        .collect()
    )
    assert [(r["action"], r["passed"]) for r in recorded] == [("fail", False)]
    runs = (
        port.read(lake.location("ops.runs")).where("run_id = 'day4' AND step = 'silver'").collect()
    )
    assert runs[0]["status"] == "failed" and "revenue_usd.range" in runs[0]["error"]


def _contracts_with_revenue_action(root: Path, name: str, action: str) -> Path:
    """A copy of the shipped contracts whose revenue range rule has another action."""
    copy = root / name
    shutil.copytree(ROOT / "contracts", copy)
    path = copy / "silver" / "company_records.yaml"
    text = path.read_text()
    start = text.index("rule: range")
    end = text.index("value: quarantine", start)
    path.write_text(text[:end] + f"value: {action}" + text[end + len("value: quarantine") :])
    return copy


def test_replay_after_a_fix_publishes_held_rows_and_empties_quarantine(lake_env) -> None:  # type: ignore[no-untyped-def]
    _settings, port, lake, root = lake_env
    qloc = lake.location("silver.company_records__quarantine")
    assert port.read(qloc).where("_run_id = 'day2'").count() == 1
    relaxed = load_contracts(_contracts_with_revenue_action(root, "relaxed", "warn"))
    guard = ContractGuard(
        port,
        lake,
        relaxed,
        run_id="replay1",
        reference_time=dt.datetime.now(dt.UTC),
    )
    out = replay_quarantine(guard, "silver.company_records")
    assert (out.released, out.published, out.held_again) == (1, 1, 0)
    published = (
        port.read(lake.location("silver.company_records"))
        .where("source_id = '001A00000000003'")
        .collect()
    )
    assert [r["revenue_usd"] for r in published] == [-5000.0]
    assert port.read(qloc).where("_run_id = 'day2'").count() == 0
    # Replaying again finds nothing left to release.
    again = replay_quarantine(guard, "silver.company_records")
    assert again.released == 0


def test_cli_lint_and_docs_on_the_lake(lake_env, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    settings, _port, _lake, root = lake_env
    common = [
        "--conf-dir",
        str(CONF),
        "--lake",
        str(settings.paths.lake),
        "--contracts",
        str(ROOT / "contracts"),
    ]
    out_dir = root / "docs"
    assert main(["contracts", "docs", *common, "--run-id", "day2", "--out", str(out_dir)]) == 0
    index = (out_dir / "index.html").read_text()
    assert "silver.company_records" in index
    code = main(["contracts", "lint", *common])
    report = capsys.readouterr().out
    assert "contracts parsed" in report
    # Every table that has a contract matches it; tables without one are named.
    assert all("has no contract" in line for line in report.splitlines() if line.startswith("  - "))
    assert code == (2 if "  - " in report else 0)
