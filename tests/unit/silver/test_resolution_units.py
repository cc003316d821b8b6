"""Silver resolution building blocks: record keys, first-seen carry, ids, merges, links."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.silver import resolution as RES
from crm_lakehouse.silver.step import keep_first_seen

D1, D2 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)


def test_keep_first_seen_keeps_the_earliest_date(spark: SparkSession) -> None:
    existing = spark.createDataFrame(
        [("salesforce", "1", D1), ("salesforce", "2", D2)],
        "source_system string, source_id string, first_seen date",
    )
    batch = spark.createDataFrame(
        [
            ("salesforce", "1", "v2", D2),
            ("salesforce", "2", "backfill", D1),
            ("hubspot", "1", "new", D2),
        ],
        "source_system string, source_id string, name string, first_seen date",
    )
    expected = spark.createDataFrame(
        [
            ("salesforce", "1", "v2", D1),
            ("salesforce", "2", "backfill", D1),
            ("hubspot", "1", "new", D2),
        ],
        "source_system string, source_id string, name string, first_seen date",
    )
    assert_df_equality(
        keep_first_seen(existing, batch), expected, ignore_row_order=True, ignore_nullable=True
    )
    assert keep_first_seen(None, batch) is batch


def test_golden_id_depends_only_on_the_oldest_source_key(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("2026-11-20|salesforce|001",),
            ("2026-11-21|salesforce|001",),
            ("2026-11-20|hubspot|001",),
        ],
        "label string",
    )
    ids = [r["id"] for r in df.select(RES.golden_id("CO", F.col("label")).alias("id")).collect()]
    assert ids[0] == ids[1] != ids[2]
    assert all(i.startswith("CO-") and len(i) == 19 for i in ids)


def test_merged_ids_point_to_the_surviving_id(spark: SparkSession) -> None:
    schema = "source_system string, source_id string, company_id string"
    previous = spark.createDataFrame(
        [("sf", "1", "A"), ("hs", "2", "B"), ("hs", "3", "B"), ("sf", "4", "C")], schema
    )
    current = spark.createDataFrame(
        [("sf", "1", "A"), ("hs", "2", "A"), ("hs", "3", "A"), ("sf", "4", "C"), ("sf", "5", "D")],
        schema,
    )
    expected = spark.createDataFrame(
        [("B", "A", D2, 2)], "merged_id string, merged_into string, merged_on date, records long"
    )
    assert_df_equality(
        RES.merged_ids(previous, current, "company_id", "2026-11-21"),
        expected,
        ignore_nullable=True,
    )


def test_nothing_merged_when_ids_carry_forward(spark: SparkSession) -> None:
    schema = "source_system string, source_id string, company_id string"
    previous = spark.createDataFrame([("sf", "1", "A")], schema)
    current = spark.createDataFrame([("sf", "1", "A"), ("sf", "2", "A")], schema)
    assert RES.merged_ids(previous, current, "company_id", "2026-11-21").count() == 0


def test_link_opportunities_through_the_company_xref(spark: SparkSession) -> None:
    opps = spark.createDataFrame(
        [
            ("salesforce", "o1", "001", None),
            ("salesforce", "o2", "999", "stale"),
            ("salesforce", "o3", None, None),
        ],
        "source_system string, source_id string, company_source_id string, company_id string",
    )
    xref = spark.createDataFrame(
        [("salesforce", "001", "CO-1"), ("hubspot", "999", "CO-2")],
        "source_system string, source_id string, company_id string",
    )
    expected = spark.createDataFrame(
        [
            ("salesforce", "o1", "001", "CO-1"),
            ("salesforce", "o2", "999", None),
            ("salesforce", "o3", None, None),
        ],
        "source_system string, source_id string, company_source_id string, company_id string",
    )
    assert_df_equality(
        RES.link_opportunities(opps, xref), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_rules_load_from_the_repository_conf() -> None:
    rules = RES.load_rules()
    assert rules.matching.companies.threshold > 0
    assert rules.survivorship.person.attribute("email")
    assert rules.industries["technology"] == "51"
