"""gold.lead_funnel on inline Silver frames."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from crm_lakehouse.gold import lead_funnel as L
from crm_lakehouse.gold.rules import load_gold_rules
from crm_lakehouse.gold.table import BuildContext, Snapshot

from ._support import columns, companies, company, people, person

RECORDS = (
    "source_system string, source_id string, record_kind string, lead_source string, "
    "is_converted boolean, is_deleted boolean, created_at timestamp"
)
XREF = "source_system string, source_id string, person_id string, first_seen date"


def test_created_matched_converted_and_days_to_match(spark: SparkSession) -> None:
    def ts(d: str) -> dt.datetime:
        return dt.datetime.fromisoformat(d + "T10:00:00+00:00")

    records = spark.createDataFrame(
        [
            ("salesforce", "L1", "lead", "Web", False, False, ts("2026-11-01")),
            ("salesforce", "L2", "lead", "Web", True, False, ts("2026-11-10")),
            ("salesforce", "L3", "lead", "Web", False, False, ts("2026-11-15")),  # no company
            ("salesforce", "L4", "lead", "Web", False, True, ts("2026-11-15")),  # deleted
            ("salesforce", "L5", "lead", None, False, False, None),
            ("salesforce", "L6", "lead", "Webinar", False, False, ts("2026-10-03")),  # dead co
            ("salesforce", "C1", "contact", None, None, False, ts("2026-11-01")),
        ],
        RECORDS,
    )
    day = dt.date(2026, 11, 20)
    xref = spark.createDataFrame(
        [
            ("salesforce", "L1", "PE-1", day),
            ("salesforce", "L2", "PE-2", day),
            ("salesforce", "L3", "PE-3", day),
            ("salesforce", "L5", "PE-5", day),
            ("salesforce", "L6", "PE-6", day),
            ("salesforce", "C1", "PE-1", day),
        ],
        XREF,
    )
    ppl = people(
        spark,
        [
            person("PE-1", "CO-1", ["contact", "lead"]),
            person("PE-2", "CO-1", ["lead"]),
            person("PE-3", None, ["lead"]),
            person("PE-5", "CO-1", ["lead"]),
            person("PE-6", "CO-9", ["lead"]),
        ],
    )
    comps = companies(spark, [company("CO-1"), company("CO-9", is_deleted=True)])
    snap = Snapshot(
        {L.PERSON_RECORDS: records, L.PERSON_XREF: xref, L.PEOPLE: ppl, L.COMPANIES: comps},
        "2026-11-20",
    )
    out = L.lead_funnel(snap, BuildContext(load_gold_rules()))
    assert columns(out.schema) == columns(L.SCHEMA)
    expected = spark.createDataFrame(
        [
            ("Web", "2026-11", 3, 2, 1, 0.6667, 0.3333, 14.5, 14.5, 19),
            ("(none)", "(none)", 1, 1, 0, 1.0, 0.0, None, None, None),
            ("Webinar", "2026-10", 1, 0, 0, 0.0, 0.0, None, None, None),
        ],
        L.SCHEMA,
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
