"""gold.pipeline_summary on inline Silver frames."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.gold import pipeline_summary as P
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.table import BuildContext, Snapshot

from ._support import columns, companies, company, opportunities


def test_groups_by_company_dimensions_weights_and_excludes_deleted(spark: SparkSession) -> None:
    nov, dec = dt.date(2026, 11, 5), dt.date(2026, 12, 1)
    comps = companies(
        spark,
        [
            company("CO-1", country="US", industry="51", employees=20),
            company("CO-2", country="DE", industry="52", employees=2000),
        ],
    )
    opps = opportunities(
        spark,
        [
            ("O1", "CO-1", "Prospecting", 1000.0, "USD", 10.0, nov, False, False, False),
            ("O2", "CO-1", "Prospecting", 3000.0, "USD", 20.0, nov, False, False, False),
            ("O3", "CO-1", "Prospecting", 9999.0, "USD", 50.0, nov, False, False, True),
            ("O4", "CO-2", "Closed Won", 500.0, "EUR", 100.0, dec, True, True, False),
            ("O5", "CO-2", "Closed Won", 100.0, "EUR", 100.0, None, True, False, False),
            ("O6", None, "Closed Lost", None, None, None, dec, True, False, False),
        ],
    )
    out = P.pipeline_summary(
        Snapshot({P.OPPORTUNITIES: opps, P.COMPANIES: comps}, "2026-11-20"),
        BuildContext(load_gold_rules()),
    )
    assert columns(out.schema) == columns(P.SCHEMA)
    expected = spark.createDataFrame(
        [
            ("SMB", "51", "Information", "North America", "Prospecting", "2026-11", "USD",
             2, 2, 0, 0, 4000.0, 700.0, 0.0, 4000.0, 700.0, None),
            ("Enterprise", "52", "Finance and Insurance", "EMEA", "Closed Won", "2026-12", "EUR",
             1, 0, 1, 1, 500.0, 500.0, 500.0, 540.0, 540.0, 1.0),
            ("Enterprise", "52", "Finance and Insurance", "EMEA", "Closed Won", "(none)", "EUR",
             1, 0, 1, 0, 100.0, 100.0, 0.0, 108.0, 108.0, 0.0),
            ("Unclassified", "(unknown)", None, "Unknown", "Closed Lost", "2026-12", "USD",
             1, 0, 1, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ],
        P.SCHEMA,
    )  # fmt: skip
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
