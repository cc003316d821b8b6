"""``lakehouse query``: DuckDB over the lake's Delta tables, checked against Spark on the same data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from crm_lakehouse.cli import main
from crm_lakehouse.delta.rs import DeltaRsAdapter
from crm_lakehouse.errors import QueryError
from crm_lakehouse.lake import Lake
from crm_lakehouse.query import LakeQuery, OutputFormat, QueryResult, format_for, render_table

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"

DEALS_SCHEMA = T.StructType(
    [
        T.StructField("deal_id", T.StringType(), False),
        T.StructField("region", T.StringType()),
        T.StructField("stage", T.StringType()),
        T.StructField("amount", T.DecimalType(18, 2)),
        T.StructField("probability", T.DoubleType()),
        T.StructField("close_date", T.DateType()),
        T.StructField("updated_at", T.TimestampType()),
        T.StructField("is_won", T.BooleanType()),
        T.StructField("seats", T.LongType()),
    ]
)


def _deal(
    i: int, region: str, stage: str, amount: str | None, prob: float | None, won: bool | None
) -> tuple[Any, ...]:
    return (
        f"D{i:03d}",
        region,
        stage,
        Decimal(amount) if amount is not None else None,
        prob,
        dt.date(2026, 11, 1 + i),
        dt.datetime(2026, 11, 20, 8, i, 30, 123456),  # TZ=UTC in tests/conftest.py
        won,
        i * 10 if i % 3 else None,
    )


# Probabilities are binary fractions, so sums and averages are exact in any summation order.
BATCH_1 = [
    _deal(1, "emea", "Prospecting", "1200.50", 0.125, False),
    _deal(2, "emea", "Closed Won", "99999.99", 1.0, True),
    _deal(3, "amer", "Negotiation", "5000.00", 0.625, None),
    _deal(4, "amer", "Prospecting", None, None, False),
]
BATCH_2 = [
    _deal(5, "apac", "Closed Won", "42.42", 1.0, True),
    _deal(6, "emea", "Negotiation", "777.70", 0.75, False),
    _deal(7, "apac", "Closed Lost", "0.01", 0.0, False),
]


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """silver.deals (partitioned by region, two appends), gold.stage_summary (from Spark),
    ops.notes (strings with quotes, commas and newlines), and a broken bronze table."""
    lake = Lake(tmp_path_factory.mktemp("query") / "lake")
    port = DeltaRsAdapter(spark)
    deals = lake.location("silver.deals")
    port.create(deals, DEALS_SCHEMA, partition_by=["region"], description="Deals")
    port.append(deals, spark.createDataFrame(BATCH_1, DEALS_SCHEMA))
    port.append(deals, spark.createDataFrame(BATCH_2, DEALS_SCHEMA))
    summary = spark.sql(
        "SELECT stage, count(*) AS deals, sum(amount) AS amount FROM {d} GROUP BY stage",
        d=port.read(deals),
    )
    port.create(lake.location("gold.stage_summary"), summary.schema)
    port.append(lake.location("gold.stage_summary"), summary)
    notes_schema = T.StructType(
        [T.StructField("n", T.IntegerType()), T.StructField("text", T.StringType())]
    )
    notes = [(1, 'said "hi", then left'), (2, "two\nlines"), (3, None), (4, "naïve café")]
    port.create(lake.location("ops.notes"), notes_schema)
    port.append(lake.location("ops.notes"), spark.createDataFrame(notes, notes_schema))
    broken = lake.root / "bronze" / "broken" / "_delta_log"
    broken.mkdir(parents=True)
    (broken / "00000000000000000000.json").write_text("this is not a delta log\n")
    return lake


def _spark_rows(spark: SparkSession, lake: Lake, sql: str, **tables: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on Spark with each ``{name}`` bound to the lake table ``tables[name]``."""
    port = DeltaRsAdapter(spark)
    frames = {name: port.read(lake.location(t)) for name, t in tables.items()}
    return [tuple(r) for r in spark.sql(sql, **frames).collect()]


def _normalise(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """DuckDB hands back UTC-aware datetimes, Spark naive UTC ones (TZ=UTC in the tests)."""
    return tuple(
        v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo else v
        for v in row
    )


def _duck_rows(lake: Lake, sql: str) -> list[tuple[Any, ...]]:
    with LakeQuery(lake) as q:
        result = q.fetch(sql, limit=None)
    assert result.total_rows == len(result.rows)
    return [_normalise(r) for r in result.rows]


# ---------------------------------------------------------------------- results equal Spark's


@pytest.mark.parametrize("table", ["silver.deals", "gold.stage_summary", "ops.notes"])
def test_every_row_and_column_equals_spark(spark: SparkSession, lake: Lake, table: str) -> None:
    first = "deal_id" if table == "silver.deals" else ("stage" if "stage" in table else "n")
    duck = _duck_rows(lake, f"SELECT * FROM {table} ORDER BY {first}")
    expected = _spark_rows(spark, lake, f"SELECT * FROM {{t}} ORDER BY {first}", t=table)
    assert duck == expected
    with LakeQuery(lake) as q:
        columns = q.fetch(f"SELECT * FROM {table}", limit=0).columns
    assert list(columns) == DeltaRsAdapter(spark).read(lake.location(table)).columns


def test_aggregate_join_and_filter_equal_spark(spark: SparkSession, lake: Lake) -> None:
    template = """
        SELECT d.region, s.stage, count(*) AS n, sum(d.amount) AS amount,
               avg(d.probability) AS avg_prob, max(d.updated_at) AS last_update,
               sum(CASE WHEN d.is_won THEN 1 ELSE 0 END) AS won, s.deals AS stage_deals
        FROM {deals} d JOIN {summary} s ON d.stage = s.stage
        WHERE d.close_date >= DATE '2026-11-03' AND d.seats IS NOT NULL OR d.region = 'apac'
        GROUP BY d.region, s.stage, s.deals
        ORDER BY d.region, s.stage
    """
    duck = _duck_rows(lake, template.format(deals="silver.deals", summary="gold.stage_summary"))
    expected = _spark_rows(
        spark,
        lake,
        template.replace("{deals}", "{d}").replace("{summary}", "{s}"),
        d="silver.deals",
        s="gold.stage_summary",
    )
    assert len(duck) == len(expected) > 2
    assert duck == expected


# ---------------------------------------------------------------------- errors


def test_unknown_table_is_named_with_the_tier_known_ones(lake: Lake) -> None:
    with LakeQuery(lake) as q, pytest.raises(QueryError) as err:
        q.fetch("SELECT * FROM silver.deal JOIN gold.stage_summary USING (stage)")
    message = str(err.value)
    assert "unknown table silver.deal " in message
    assert "silver tables: silver.deals" in message
    assert "SELECT * FROM silver.deal JOIN" in message
    assert err.value.exit_code == 2


def test_unqualified_table_gets_a_hint(lake: Lake) -> None:
    with LakeQuery(lake) as q, pytest.raises(QueryError) as err:
        q.fetch("SELECT * FROM deals")
    assert "Table with name deals does not exist" in str(err.value)
    assert "did you mean silver.deals?" in str(err.value)


def test_bad_sql_reports_duckdb_and_the_query(lake: Lake) -> None:
    with LakeQuery(lake) as q, pytest.raises(QueryError) as err:
        q.fetch("SELECT stage, FROM silver.deals GROUP BY nope")
    message = str(err.value)
    assert message.startswith("query failed: Binder Error")
    assert '"nope"' in message
    assert "in: SELECT stage, FROM silver.deals GROUP BY nope" in message
    with LakeQuery(lake) as q, pytest.raises(QueryError, match="syntax error"):
        q.fetch("SELEC 1")


def test_runtime_errors_are_query_errors(lake: Lake) -> None:
    with LakeQuery(lake) as q, pytest.raises(QueryError, match="Conversion Error"):
        q.fetch("SELECT CAST(stage AS INTEGER) FROM silver.deals")


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("CREATE TABLE x AS SELECT * FROM silver.deals", "found a CREATE statement"),
        ("COPY silver.deals TO '/tmp/x.csv'", "found a COPY statement"),
        ("INSTALL httpfs", "found a LOAD statement"),
        ("SELECT 1; SELECT 2", "exactly one statement; found 2"),
    ],
)
def test_only_one_read_only_query_runs(lake: Lake, sql: str, found: str) -> None:
    with LakeQuery(lake) as q, pytest.raises(QueryError, match=found):
        q.fetch(sql)


def test_only_referenced_tables_are_opened(lake: Lake) -> None:
    """bronze.broken has no readable log: queries not naming it work, the one naming it fails
    with an error naming it."""
    with LakeQuery(lake) as q:
        assert q.referenced_tables(
            "WITH w AS (SELECT * FROM gold.stage_summary) SELECT * FROM w, ops.notes AS n"
        ) == ["gold.stage_summary", "ops.notes"]
        assert q.fetch("SELECT count(*) FROM gold.stage_summary").rows == ((4,),)
        with pytest.raises(QueryError, match=r"bronze\.broken: cannot read the Delta table"):
            q.fetch("SELECT * FROM bronze.broken")


def test_using_joins_and_pivot_subqueries(spark: SparkSession, lake: Lake) -> None:
    joined = "SELECT deal_id, deals FROM {d} JOIN {s} USING (stage) ORDER BY deal_id"
    assert _duck_rows(lake, joined.format(d="silver.deals", s="gold.stage_summary")) == _spark_rows(
        spark, lake, joined, d="silver.deals", s="gold.stage_summary"
    )
    pivot = _duck_rows(
        lake,
        "SELECT * FROM (PIVOT silver.deals ON region IN ('amer', 'emea') USING count(*) "
        "GROUP BY stage) ORDER BY stage",
    )
    assert pivot == [
        ("Closed Lost", 0, 0),
        ("Closed Won", 0, 1),
        ("Negotiation", 1, 1),
        ("Prospecting", 1, 1),
    ]
    # Without an IN list DuckDB makes a PIVOT two statements (it creates an enum type first).
    with LakeQuery(lake) as q, pytest.raises(QueryError, match=r"ON col IN \('a', 'b'\)"):
        q.fetch("PIVOT silver.deals ON region USING count(*) GROUP BY stage")


def test_quoted_and_mixed_case_names_resolve(lake: Lake) -> None:
    assert _duck_rows(lake, 'SELECT count(*) FROM "silver"."deals"') == [(7,)]
    assert _duck_rows(lake, "SELECT count(*) FROM Silver.Deals") == [(7,)]


def test_describe_and_semicolon(lake: Lake) -> None:
    rows = _duck_rows(lake, "DESCRIBE gold.stage_summary;")
    assert [(r[0], r[1]) for r in rows] == [
        ("stage", "VARCHAR"),
        ("deals", "BIGINT"),
        ("amount", "DECIMAL(28,2)"),
    ]


# ---------------------------------------------------------------------- rendering


def test_render_table_aligns_and_counts() -> None:
    import pyarrow as pa

    result = QueryResult(
        columns=("n", "name", "amount"),
        types=(pa.int64(), pa.string(), pa.decimal128(10, 2)),
        rows=((1, "a\tb", Decimal("5.00")), (22, None, Decimal("123.45"))),
        total_rows=2,
    )
    assert render_table(result).splitlines() == [
        " n  name  amount",
        "--  ----  ------",
        " 1  a\\tb    5.00",
        "22  NULL  123.45",
        "(2 rows)",
    ]
    cut = QueryResult(("s",), (pa.string(),), (("x" * 60,),), total_rows=1000)
    lines = render_table(cut, max_cell=10).splitlines()
    assert lines[2] == "xxxxxxxxx…"
    assert lines[-1] == "(1 of 1,000 rows shown; --limit N shows more, --out FILE writes all)"


def test_fetch_keeps_limit_rows_and_counts_all(lake: Lake) -> None:
    with LakeQuery(lake) as q:
        result = q.fetch("SELECT deal_id FROM silver.deals ORDER BY deal_id", limit=3)
    assert result.rows == (("D001",), ("D002",), ("D003",))
    assert result.total_rows == 7
    assert result.truncated


def test_format_for() -> None:
    assert format_for(None, None) is OutputFormat.TABLE
    assert format_for(Path("a.CSV"), None) is OutputFormat.CSV
    assert format_for(Path("a.parquet"), None) is OutputFormat.PARQUET
    assert format_for(Path("a.txt"), OutputFormat.TABLE) is OutputFormat.TABLE
    with pytest.raises(QueryError, match=r"extension '\.txt'"):
        format_for(Path("a.txt"), None)
    with pytest.raises(QueryError, match="--out FILE"):
        format_for(None, OutputFormat.PARQUET)


# ---------------------------------------------------------------------- CLI


def _cli(lake: Lake, *args: str) -> list[str]:
    return [*args, "--conf-dir", str(CONF), "--lake", str(lake.root)]


def test_cli_prints_a_table(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT stage, deals, amount FROM gold.stage_summary ORDER BY stage"
    assert main(_cli(lake, "query", sql)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "stage        deals     amount",
        "-----------  -----  ---------",
        "Closed Lost      1       0.01",
        "Closed Won       2  100042.41",
        "Negotiation      2    5777.70",
        "Prospecting      2    1200.50",
        "(4 rows)",
    ]
    assert main(_cli(lake, "query", "SELECT * FROM silver.deals", "--limit", "2")) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 + 2 + 1
    assert out[-1].startswith("(2 of 7 rows shown")


def test_cli_writes_csv_and_parquet_equal_to_spark(
    spark: SparkSession, lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT * FROM silver.deals ORDER BY deal_id"
    expected = _spark_rows(spark, lake, "SELECT * FROM {t} ORDER BY deal_id", t="silver.deals")

    assert main(_cli(lake, "query", sql, "--out", str(tmp_path / "deals.parquet"))) == 0
    assert capsys.readouterr().out.strip() == (
        f"wrote 7 rows to {tmp_path / 'deals.parquet'} (parquet)"
    )
    table = pq.read_table(tmp_path / "deals.parquet")
    assert [_normalise(tuple(r.values())) for r in table.to_pylist()] == expected

    out_csv = tmp_path / "sub" / "deals.csv"
    assert main(_cli(lake, "query", sql, "--out", str(out_csv))) == 0
    capsys.readouterr()
    with out_csv.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [f.name for f in DEALS_SCHEMA.fields]
    assert [r[0] for r in rows[1:]] == [e[0] for e in expected]
    assert rows[2][3] == "99999.99" and rows[4][3] == ""  # decimal as written; NULL empty
    assert rows[1][6] == "2026-11-20 08:01:30.123456+00"  # UTC instant

    # --format csv without --out streams the same bytes to stdout.
    assert main(_cli(lake, "query", sql, "--format", "csv")) == 0
    assert capsys.readouterr().out == out_csv.read_text()


def test_cli_csv_quotes_awkward_strings(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_cli(lake, "query", "SELECT * FROM ops.notes ORDER BY n", "--format", "csv")) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["n", "text"],
        ["1", 'said "hi", then left'],
        ["2", "two\nlines"],
        ["3", ""],
        ["4", "naïve café"],
    ]


def test_cli_errors_exit_2(lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_cli(lake, "query", "SELECT * FROM gold.nope")) == 2
    err = capsys.readouterr().err
    assert "lakehouse query: error: unknown table gold.nope" in err
    assert "gold tables: gold.stage_summary" in err
    assert main(_cli(lake, "query", "SELECT 1", "--format", "parquet")) == 2
    assert "--out FILE" in capsys.readouterr().err
    assert (
        main(_cli(lake, "query", "SELECT 1", "--out", str(tmp_path / "x.csv"), "--limit", "5")) == 2
    )
    assert "--limit caps the rows printed as a table" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_query_and_tables_run_without_pyspark(lake: Lake) -> None:
    """The CLI path of `query` and `tables` imports neither pyspark nor py4j, so no JVM starts."""
    script = f"""
import json, sys
from crm_lakehouse.cli import main
common = ["--conf-dir", {str(CONF)!r}, "--lake", {str(lake.root)!r}]
codes = [
    main(["query", "SELECT stage, deals FROM gold.stage_summary ORDER BY stage", *common]),
    main(["tables", "--json", *common]),
]
print(json.dumps({{"codes": codes, "jvm": sorted(m for m in sys.modules
      if m.split(".")[0] in ("pyspark", "py4j"))}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0], "jvm": []}
    assert "Closed Won       2" in proc.stdout
    assert '"table": "silver.deals"' in proc.stdout
