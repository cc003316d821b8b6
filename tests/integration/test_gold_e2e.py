"""Gold over the generated two-day lake: reconciliation with Silver, incremental == full
refresh, rerun idempotency, no personal data in clear, and any Delta reader sees the same rows."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.contracts import Classification, load_contracts
from crm_lakehouse.gold import step as gold
from crm_lakehouse.gold.pii import PiiKey, hash_column, load_pii_key
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.state import BUILDS
from crm_lakehouse.lake import Lake
from crm_lakehouse.steps import StepContext

from .conftest import DAY1, DAY2, World


def _read(w: World, table: str) -> DataFrame:
    return w.port.read(w.lake.location(table))


def _ctx(w: World, date: str, root: Path | None = None) -> StepContext:
    settings = w.settings if root is None else w.settings.with_paths(lake=root)
    return StepContext(
        spark=w.port.spark, port=w.port, settings=settings, date=date, run_id=f"{date}_gold_test"
    )


def _rows(df: DataFrame) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in df.collect()), key=repr)


def _live_companies(w: World) -> DataFrame:
    merged = _read(w, "silver.company_merges").select(F.col("merged_id").alias("company_id"))
    return (
        _read(w, "silver.companies")
        .where(~F.col("is_deleted"))
        .join(merged, "company_id", "left_anti")
    )


def test_every_gold_table_is_published_with_its_contract(world: World) -> None:
    contracts = load_contracts(world.settings.paths.contracts)
    tables = set(world.lake.tables())
    for run in (world.run1, world.run2):
        assert [s.status for s in run.steps] == ["succeeded"] * 3
    for table in gold.TABLES:
        assert table in tables and table in contracts, table
        assert _read(world, table).count() > 0, table
    # Day 2 refreshed Gold from what changed; the Silver versions of each build are recorded.
    builds = _read(world, BUILDS).where(F.col("logical_date") == DAY2).collect()
    assert {b["gold_table"] for b in builds} <= set(gold.TABLES)
    assert any(b["mode"] == "incremental" for b in builds), [b.asDict() for b in builds]
    for b in builds:
        inputs = json.loads(b["inputs"])
        assert b["gold_version"] <= world.port.version(world.lake.location(b["gold_table"]))
        assert inputs and all(isinstance(v, int) for v in inputs.values())


def test_account_360_reconciles_with_silver(world: World) -> None:
    rules = load_gold_rules()
    accounts = _read(world, "gold.account_360")
    live = _live_companies(world)
    assert accounts.count() == live.count() > 0
    assert accounts.select("company_id").subtract(live.select("company_id")).count() == 0
    opps = _read(world, "silver.opportunities").where(~F.col("is_deleted"))
    open_linked = opps.where(~F.col("is_closed")).join(live.select("company_id"), "company_id")
    expected = Decimal(0)
    for r in open_linked.select("amount", "currency").collect():
        rate = rules.rate(r["currency"] or "USD")
        expected += Decimal(str(r["amount"] or 0)) * rate
    got = accounts.agg(F.sum("open_pipeline_usd"), F.sum("open_opportunity_count")).first()
    assert got is not None
    assert got[1] == open_linked.count() > 0
    # Each account is rounded to cents: the totals agree within half a cent per account.
    assert abs(Decimal(str(got[0])) - expected) <= Decimal("0.005") * accounts.count()
    people = _read(world, "silver.people").where(~F.col("is_deleted"))
    contacts = people.where(F.array_contains("record_kinds", "contact")).join(
        live.select("company_id"), "company_id"
    )
    total = accounts.agg(F.sum("contact_count")).first()
    assert total is not None and total[0] == contacts.count() > 0


def test_pipeline_summary_reconciles_with_silver_per_currency(world: World) -> None:
    opps = _read(world, "silver.opportunities").where(~F.col("is_deleted"))
    silver = {
        r["currency"]: (r["n"], r["amount"], r["won"])
        for r in opps.groupBy(F.coalesce("currency", F.lit("USD")).alias("currency"))
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.coalesce("amount", F.lit(0.0))).alias("amount"),
            F.count(F.when(F.col("is_won"), 1)).alias("won"),
        )
        .collect()
    }
    summary = _read(world, "gold.pipeline_summary")
    gold_totals = {
        r["currency"]: (r["n"], r["amount"], r["won"], r["groups"])
        for r in summary.groupBy("currency")
        .agg(
            F.sum("opportunity_count").alias("n"),
            F.sum("amount").alias("amount"),
            F.sum("won_count").alias("won"),
            F.count(F.lit(1)).alias("groups"),
        )
        .collect()
    }
    assert set(gold_totals) == set(silver) and len(silver) >= 2
    for currency, (n, amount, won) in silver.items():
        g = gold_totals[currency]
        assert (g[0], g[2]) == (n, won), currency
        assert abs(g[1] - amount) <= 0.005 * g[3] + 1e-6, currency


def test_lead_funnel_counts_every_live_lead(world: World) -> None:
    leads = (
        _read(world, "silver.person_records")
        .where((F.col("record_kind") == "lead") & ~F.col("is_deleted"))
        .count()
    )
    funnel = _read(world, "gold.lead_funnel").agg(
        F.sum("leads_created"), F.sum("leads_matched"), F.sum("leads_converted")
    )
    row = funnel.first()
    assert row is not None and row[0] == leads > 0 and 0 < row[1] <= row[0] and row[2] <= row[0]


def test_data_quality_scores_the_runs(world: World) -> None:
    dq = _read(world, "gold.data_quality")
    results = _read(world, "ops.dq_results").where(F.col("table") != "gold.data_quality")
    expected = results.groupBy("run_id", "table").count()
    got = dq.select("run_id", "table", F.col("rules_checked").alias("count"))
    assert _rows(got) == _rows(expected)
    run1 = dq.where(F.col("run_id") == world.run1.run_id)
    assert {r["logical_date"] for r in run1.collect()} == {dt.date.fromisoformat(DAY1)}
    assert run1.where(F.col("tier") == "gold").count() >= 4


def test_full_refresh_equals_the_incremental_result(world: World, tmp_path: Path) -> None:
    copy = tmp_path / "lake"
    shutil.copytree(world.settings.paths.lake, copy)
    ctx = _ctx(world, DAY2, copy)
    out = gold.run(ctx, full_refresh=True)
    assert all(out.metrics[f"{t}.mode"] == "full" for t in gold.TABLES), out.metrics
    copied = Lake(copy)
    for table in gold.TABLES:
        full = world.port.read(copied.location(table))
        incremental = _read(world, table)
        assert full.count() == incremental.count(), table
        assert full.exceptAll(incremental).count() == 0, table
        assert incremental.exceptAll(full).count() == 0, table


def test_rerunning_gold_changes_nothing(world: World) -> None:
    for table in gold.TABLES:
        assert world.versions_after_rerun[table] == world.versions_after_day1[table], table
    assert world.versions_after_rerun[BUILDS] == world.versions_after_day1[BUILDS]
    before = {t: world.port.version(world.lake.location(t)) for t in (*gold.TABLES, BUILDS)}
    out = gold.run(_ctx(world, DAY2))
    after = {t: world.port.version(world.lake.location(t)) for t in (*gold.TABLES, BUILDS)}
    assert after == before
    assert out.rows_out == 0 and all(out.metrics[f"{t}.skipped"] for t in gold.TABLES)


def _silver_pii(world: World) -> tuple[set[str], set[str]]:
    """Names of Silver columns classified PII, and every value they hold in the lake."""
    contracts = load_contracts(world.settings.paths.contracts)
    names: set[str] = set()
    values: set[str] = set()
    for table, contract in contracts.items():
        if contract.tier != "silver" or contract.derived_from is not None:
            continue
        pii = {
            p.name
            for p in contract.walk()
            if p.classification is Classification.PII and "." not in p.path
        }
        names |= pii
        if table in world.lake.tables() and pii:
            df = _read(world, table)
            # Single names ("Austin", "Jordan") are also city or company words; full names
            # are checked instead (below).
            for col in sorted(pii & set(df.columns) - {"first_name", "last_name"}):
                for (value,) in df.select(col).where(F.col(col).isNotNull()).collect():
                    # An array (xref blocking keys) holds its values as elements.
                    values |= set(value) if isinstance(value, list) else {value}
    return names, {v for v in values if len(v) >= 5}


def test_no_personal_data_reaches_gold_in_clear(world: World) -> None:
    names, values = _silver_pii(world)
    assert {"email", "phone", "first_name", "last_name", "street"} <= names
    assert any("@" in v for v in values) and any(v.startswith("+") for v in values)
    people = _read(world, "silver.people").where(F.col("first_name").isNotNull())
    full_names = {f"{r[0]} {r[1]}" for r in people.select("first_name", "last_name").collect()}
    hashed: list[str] = []
    for table in gold.TABLES:
        df = _read(world, table)
        assert not names & set(df.columns), (table, names & set(df.columns))
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        for row in df.select(*strings).collect():
            for col, value in zip(strings, row, strict=True):
                if value is None:
                    continue
                assert value not in values and value not in full_names, (table, col)
                assert "@" not in value, (table, col)
                if col.endswith("_hmac"):
                    hashed.append(value)
    assert hashed and all(re.fullmatch("[0-9a-f]{64}", h) for h in hashed)
    # The hash is keyed: the deployment key reproduces it, another key does not.
    key = load_pii_key()
    accounts = _read(world, "gold.account_360").where(F.col("phone_hmac").isNotNull())
    sample = accounts.join(_read(world, "silver.companies"), "company_id").select(
        "phone_hmac", "phone", hash_column(F.col("phone"), PiiKey(b"another-key-0123456789", "t"))
    )
    for r in sample.limit(20).collect():
        assert r[0] == key.digest(r[1]) and r[2] != r[0]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)  # Spark: naive UTC (TZ=UTC)
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


@pytest.mark.parametrize("table", gold.TABLES)
def test_an_independent_delta_reader_sees_the_same_rows(world: World, table: str) -> None:
    arrow = DeltaTable(world.lake.location(table)).to_pyarrow_table()
    spark_df = _read(world, table)
    assert arrow.column_names == spark_df.columns
    from_arrow = sorted((tuple(_plain(v) for v in r.values()) for r in arrow.to_pylist()), key=repr)
    from_spark = sorted((tuple(_plain(v) for v in r) for r in spark_df.collect()), key=repr)
    assert from_arrow == from_spark and len(from_spark) > 0
