"""``lakehouse tables`` (Delta-log facts without Spark) and ``lakehouse register`` (metastore
entries), the latter executed for real over Spark Connect against a local Sail server."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.transaction import AddAction
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from crm_lakehouse.catalog import (
    list_tables,
    register,
    register_statements,
    render_tables,
    table_info,
)
from crm_lakehouse.cli import main
from crm_lakehouse.delta.rs import DeltaRsAdapter
from crm_lakehouse.errors import EnvironmentCheckError
from crm_lakehouse.lake import Lake, Tier

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"

SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType(), False),
        T.StructField("stage", T.StringType()),
        T.StructField("at", T.TimestampType()),
    ]
)


def _rows(start: int, n: int) -> list[tuple[Any, ...]]:
    return [
        (i, f"s{i % 3}", dt.datetime(2026, 11, 20, 9, 0, i % 60)) for i in range(start, start + n)
    ]


@pytest.fixture(scope="module")
def lake_and_window(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lake, dt.datetime, dt.datetime]:
    """silver.deals: created with a description, two appends (3 files); gold.pipeline_summary:
    no Delta description (its contract has one); ops.runs: empty. Returns the lake and the
    wall-clock window the commits happened in."""
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lake = Lake(tmp_path_factory.mktemp("catalog") / "lake")
    port = DeltaRsAdapter(spark, max_rows_per_file=40)
    deals = lake.location("silver.deals")
    port.create(deals, SCHEMA, description="Deals, one row per opportunity")
    port.append(deals, spark.createDataFrame(_rows(0, 50), SCHEMA).coalesce(1))
    port.append(deals, spark.createDataFrame(_rows(50, 7), SCHEMA).coalesce(1))
    summary = lake.location("gold.pipeline_summary")
    port.create(summary, SCHEMA)
    port.append(summary, spark.createDataFrame(_rows(0, 4), SCHEMA))
    port.create(lake.location("ops.runs"), SCHEMA, description="One row per pipeline step run")
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    return lake, before, after


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contract files giving descriptions (ODCS shape; only the description fields matter)."""
    root = tmp_path_factory.mktemp("contracts")
    (root / "gold").mkdir()
    (root / "gold" / "pipeline_summary.yaml").write_text(
        "apiVersion: v3.0.2\nkind: DataContract\n"
        "description:\n  purpose: Why the table exists.\n"
        "schema:\n  - name: pipeline_summary\n    description: >-\n"
        "      Pipeline by stage,\n      close month and currency.\n"
    )
    (root / "silver").mkdir()
    (root / "silver" / "purpose_only.yaml").write_text(
        "description:\n  purpose: Only a contract-level purpose.\nschema:\n  - name: x\n"
    )
    (root / "silver" / "broken.yaml").write_text("schema: [unclosed\n")
    return root


@pytest.fixture(scope="module")
def lake(lake_and_window: tuple[Lake, dt.datetime, dt.datetime]) -> Lake:
    return lake_and_window[0]


# ---------------------------------------------------------------------- listing


def test_list_tables_reads_facts_from_the_log(
    spark: SparkSession,
    lake_and_window: tuple[Lake, dt.datetime, dt.datetime],
    contracts: Path,
) -> None:
    lake, before, after = lake_and_window
    port = DeltaRsAdapter(spark)
    tables = list_tables(lake, contracts_dir=contracts)
    assert [t.table for t in tables] == ["silver.deals", "gold.pipeline_summary", "ops.runs"]
    for t in tables:
        assert t.location == lake.location(t.table)
        assert t.version == port.version(t.location)
        assert t.rows == port.read(t.location).count()
        assert t.error is None
        latest = port.history(t.location, 1)[0].timestamp_ms
        assert t.last_updated == dt.datetime.fromtimestamp(latest / 1000, dt.UTC)
        assert t.last_updated is not None and before <= t.last_updated <= after
    deals, summary, runs = tables
    assert (deals.version, deals.rows, deals.files) == (2, 57, 3)  # 40 + 10 + 7 rows
    assert deals.size_bytes == sum(
        p.stat().st_size for p in Path(deals.location).rglob("*.parquet")
    )
    assert deals.description == "Deals, one row per opportunity"
    # No Delta description: the contract's table description instead.
    assert summary.description == "Pipeline by stage, close month and currency."
    assert (runs.version, runs.rows, runs.files) == (0, 0, 0)
    assert runs.description == "One row per pipeline step run"
    assert list_tables(lake, contracts_dir=None)[1].description is None


def test_contract_descriptions_fill_in(tmp_path: Path, contracts: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for name in ("silver.purpose_only", "silver.broken", "silver.no_contract"):
        DeltaTable.create(lake.location(name), pa.schema([("a", pa.int64())]))
    by_name = {t.table: t.description for t in list_tables(lake, contracts_dir=contracts)}
    assert by_name == {
        "silver.broken": None,  # unparsable YAML: no description, no error (lint reports it)
        "silver.no_contract": None,
        "silver.purpose_only": "Only a contract-level purpose.",
    }


def test_list_tables_filters_by_tier(lake: Lake) -> None:
    assert [t.table for t in list_tables(lake, tiers=[Tier.GOLD, Tier.OPS])] == [
        "gold.pipeline_summary",
        "ops.runs",
    ]
    assert list_tables(lake, tiers=[Tier.BRONZE]) == []


def test_rows_come_from_footers_when_stats_are_missing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    location = lake.location("bronze.raw")
    DeltaTable.create(location, pa.schema([("a", pa.int64())]), description="raw")
    pq.write_table(pa.table({"a": [1, 2, 3, 4]}), f"{location}/f1.parquet")
    delta = DeltaTable(location)
    size = os.path.getsize(f"{location}/f1.parquet")
    delta.create_write_transaction(
        [AddAction("f1.parquet", size, {}, 0, True, None)], mode="append", schema=delta.schema()
    )
    info = table_info(lake, "bronze.raw")
    assert (info.version, info.rows, info.files, info.size_bytes) == (1, 4, 1, size)


def test_an_unreadable_table_is_listed_with_its_error(lake: Lake, tmp_path: Path) -> None:
    broken = Lake(tmp_path / "lake")
    log = broken.root / "silver" / "bad" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("not json\n")
    DeltaTable.create(broken.location("silver.good"), pa.schema([("a", pa.int64())]))
    bad, good = list_tables(broken)
    assert (bad.table, bad.version, bad.rows) == ("silver.bad", None, None)
    assert bad.error is not None and "silver.bad" in bad.error
    assert (good.table, good.version, good.rows, good.error) == ("silver.good", 0, 0, None)
    text = render_tables([bad, good])
    assert "ERROR: " in text.splitlines()[1]


def test_render_tables_is_aligned(lake: Lake, contracts: Path) -> None:
    tables = list_tables(lake, contracts_dir=contracts)
    lines = render_tables(tables).splitlines()
    assert lines[0].split() == [
        "table",
        "version",
        "rows",
        "last",
        "update",
        "(UTC)",
        "description",
    ]
    assert len(lines) == 1 + len(tables)
    # Right-aligned numbers: every line's version and rows columns end where the header's do.
    ends = {lines[0].index("version") + len("version"), lines[0].index("rows") + len("rows")}
    for t, line in zip(tables, lines[1:], strict=True):
        assert line.startswith(f"  {t.table} ")
        assert line[: lines[0].index("version") + len("version")].endswith(f" {t.version}")
        assert line[: lines[0].index("rows") + len("rows")].endswith(f" {t.rows:,}")
        assert line[lines[0].index("description") :] == (t.description or "")
        assert t.last_updated is not None
        assert t.last_updated.strftime("%Y-%m-%d %H:%M:%S") in line
    assert len(ends) == 2


def test_cli_tables(lake: Lake, contracts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--conf-dir", str(CONF), "--lake", str(lake.root), "--contracts", str(contracts)]
    assert main(["tables", *common]) == 0
    out = capsys.readouterr().out
    assert out == render_tables(list_tables(lake, contracts_dir=contracts)) + "\n"
    assert main(["tables", "--tier", "silver", "--json", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 1
    assert listed[0]["table"] == "silver.deals"
    assert (listed[0]["version"], listed[0]["rows"], listed[0]["files"]) == (2, 57, 3)
    assert dt.datetime.fromisoformat(listed[0]["last_updated"]).tzinfo is not None
    assert listed[0]["error"] is None
    empty = lake.root.parent / "empty-lake"
    assert main(["tables", "--conf-dir", str(CONF), "--lake", str(empty)]) == 0
    assert capsys.readouterr().out == f"  no tables in {empty}\n"


# ---------------------------------------------------------------------- register


def test_register_statements(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "it's a lake")
    DeltaTable.create(lake.location("gold.pipeline_summary"), pa.schema([("a", pa.int64())]))
    DeltaTable.create(lake.location("silver.companies"), pa.schema([("a", pa.int64())]))
    root = str(lake.root.resolve()).replace("'", "\\'")
    assert register_statements(lake, "analytics") == [
        "CREATE DATABASE IF NOT EXISTS `analytics`",
        "CREATE TABLE IF NOT EXISTS `analytics`.`silver_companies` USING delta "
        f"LOCATION '{root}/silver/companies'",
        "CREATE TABLE IF NOT EXISTS `analytics`.`gold_pipeline_summary` USING delta "
        f"LOCATION '{root}/gold/pipeline_summary'",
    ]
    assert register_statements(lake, tables=["gold.pipeline_summary"])[1].startswith(
        "CREATE TABLE IF NOT EXISTS `crm_lakehouse`.`gold_pipeline_summary` USING delta"
    )


def test_cli_register_print_and_refusal(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--conf-dir", str(CONF), "--lake", str(lake.root)]
    assert main(["register", "--print", "--tier", "gold", "--database", "bi", *common]) == 0
    assert capsys.readouterr().out == (
        "CREATE DATABASE IF NOT EXISTS `bi`;\n"
        "CREATE TABLE IF NOT EXISTS `bi`.`gold_pipeline_summary` USING delta "
        f"LOCATION '{lake.location('gold.pipeline_summary')}';\n"
    )
    assert main(["register", "--print", "--database", " ", *common]) == 2
    assert "--database: the database name is empty" in capsys.readouterr().err
    # The local configuration commits through delta-rs: no Delta connector to register with.
    assert main(["register", *common]) == 2
    assert "needs the Delta Spark connector" in capsys.readouterr().err


def test_register_refuses_a_session_without_delta(spark: SparkSession, lake: Lake) -> None:
    with pytest.raises(EnvironmentCheckError, match="needs a Spark session with Delta support"):
        register(spark, register_statements(lake, "never_created"))
    assert not spark.catalog.databaseExists("never_created")


@pytest.fixture(scope="module")
def sail_spark() -> Iterator[Any]:
    """A Spark Connect session on a local Sail server (native Delta), ended with this module so
    no other test sees a Connect session."""
    from pysail.spark import SparkConnectServer
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    session = ConnectSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    yield session
    session.stop()
    server.stop()


def test_register_runs_on_a_delta_capable_engine(
    spark: SparkSession, sail_spark: Any, lake: Lake, tmp_path: Path
) -> None:
    statements = register_statements(lake, "crm_test")
    register(sail_spark, statements)
    register(sail_spark, statements)  # IF NOT EXISTS: a second run changes nothing
    names = sorted(t.name for t in sail_spark.catalog.listTables("crm_test"))
    assert names == ["gold_pipeline_summary", "ops_runs", "silver_deals"]
    port = DeltaRsAdapter(spark)
    for table in lake.tables():
        registered = sail_spark.sql(
            f"SELECT id, stage FROM crm_test.{table.replace('.', '_')} ORDER BY id"
        ).collect()
        expected = port.read(lake.location(table)).select("id", "stage").orderBy("id").collect()
        assert [tuple(r) for r in registered] == [tuple(r) for r in expected]

    # The entry points at the table's location, so later commits are visible through it.
    live = Lake(tmp_path / "lake")
    location = live.location("silver.live")
    port.create(location, SCHEMA)
    register(sail_spark, register_statements(live, "crm_live"))
    assert sail_spark.sql("SELECT count(*) FROM crm_live.silver_live").collect()[0][0] == 0
    port.append(location, spark.createDataFrame(_rows(0, 3), SCHEMA))
    assert sail_spark.sql("SELECT count(*) FROM crm_live.silver_live").collect()[0][0] == 3
