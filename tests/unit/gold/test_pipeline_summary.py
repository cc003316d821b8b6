from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.gold.pipeline_summary import pipeline_summary

OPP = (
    "stage string, close_date date, currency string, amount double, probability double, "
    "is_won boolean, is_closed boolean, is_deleted boolean"
)


def test_pipeline_summary_groups_weights_and_excludes_deleted(spark: SparkSession) -> None:
    nov, dec = dt.date(2026, 11, 5), dt.date(2026, 12, 1)
    opps = spark.createDataFrame(
        [
            ("Prospecting", nov, "USD", 1000.0, 10.0, False, False, False),
            ("Prospecting", nov, "USD", 3000.0, 20.0, False, False, False),
            ("Prospecting", nov, "USD", 9999.0, 50.0, False, False, True),  # deleted
            ("Closed Won", dec, "EUR", 500.0, 100.0, True, True, False),
            ("Closed Lost", dec, None, None, 0.0, False, True, False),
        ],
        OPP,
    )
    out = pipeline_summary(opps)
    expected = spark.createDataFrame(
        [
            ("Prospecting", "2026-11", "USD", 2, 4000.0, 700.0, 0, 0, None),
            ("Closed Won", "2026-12", "EUR", 1, 500.0, 500.0, 1, 1, 1.0),
            ("Closed Lost", "2026-12", "USD", 1, 0.0, 0.0, 0, 1, 0.0),
        ],
        "stage string, close_month string, currency string, opportunity_count long, "
        "amount double, weighted_amount double, won_count long, closed_count long, win_rate double",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
