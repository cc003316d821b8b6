"""gold.data_quality on inline ops frames."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.contracts import DQ_RESULTS_SCHEMA
from crm_lakehouse.gold import data_quality as Q
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.table import BuildContext, Snapshot
from crm_lakehouse.ops.ledger import RUNS_SCHEMA

from ._support import columns

T1 = dt.datetime(2026, 11, 21, 1, 0)
T2 = dt.datetime(2026, 11, 21, 1, 5)


def _result(run, table, kind, action, passed, observed=None, rows=10, at=T1):  # type: ignore[no-untyped-def]
    return (run, table, f"{table}.{kind}", kind, [], action, passed, observed, None, None, rows,
            "t", "spark", None, at)  # fmt: skip


def test_rules_quarantine_and_freshness_per_run_and_table(spark: SparkSession) -> None:
    results = spark.createDataFrame(
        [
            _result("R1", "silver.x", "not_null", "warn", True),
            _result("R1", "silver.x", "range", "quarantine", False, rows=12, at=T2),
            _result("R1", "silver.x", "freshness", "warn", True, "newest 2026-11-20T00:00:00+00:00 (25.0h old)"),
            _result("R1", "silver.x", "freshness", "warn", False, "newest value 49.5h old"),
            _result("R1", "gold.y", "unique", "fail", False),
            _result("2026-11-22_x_1", "bronze.z", "regex", "warn", True),
            _result("R1", "gold.data_quality", "unique", "fail", True),  # not scored
        ],
        DQ_RESULTS_SCHEMA,
    )  # fmt: skip
    runs = spark.createDataFrame(
        [("R1", "2026-11-20", "silver", "succeeded", T1, T2, 1.0, 0, 0, 0, 2, "{}", "{}", None)],
        RUNS_SCHEMA,
    )
    held = spark.createDataFrame([("R1", 1), ("R1", 2), ("R0", 3)], "_run_id string, id long")
    snap = Snapshot(
        {Q.DQ_RESULTS: results, Q.RUNS: runs, "silver.x__quarantine": held}, "2026-11-22"
    )
    out = Q.data_quality(snap, BuildContext(load_gold_rules()))
    assert columns(out.schema) == columns(Q.SCHEMA)
    d = dt.date
    expected = spark.createDataFrame(
        [
            ("R1", d(2026, 11, 20), "silver.x", "silver", 2, 4, 2, 2, 0, 12, 2, 2, False, 49.5, T2),
            ("R1", d(2026, 11, 20), "gold.y", "gold", 1, 1, 0, 1, 1, 10, 0, 0, None, None, T1),
            ("2026-11-22_x_1", d(2026, 11, 22), "bronze.z", "bronze", 1, 1, 1, 0, 0, 10, 0, 0,
             None, None, T1),
        ],
        Q.SCHEMA,
    )  # fmt: skip
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
