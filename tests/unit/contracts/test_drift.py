"""Schema drift against a contract: added, removed, renamed, retyped, each with its action."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from crm_lakehouse.contracts import (
    Action,
    DriftKind,
    detect_drift,
    detect_file_drift,
    drift_results,
    raise_for_drift,
    rescued_columns,
)
from crm_lakehouse.errors import SchemaDriftError

from ._support import column, contract

POLICY = {"added": "warn", "removed": "fail", "renamed": "fail", "retyped": "warn"}
CONTRACT = contract(
    [
        column("Id", "string"),
        column("BillingCountry", "string"),
        column("AnnualRevenue", "double"),
        column("Phone", "string"),
        column(
            "props",
            "struct",
            logicalType="object",
            properties=[column("email", "string"), column("zip", "string")],
        ),
        column("_row_hash", "string"),
    ],
    table="bronze.accounts",
    drift=POLICY,
)


def _kinds(findings):  # type: ignore[no-untyped-def]
    return sorted((f.kind.value, f.column, f.new_name, f.action.value) for f in findings)


def test_a_matching_schema_has_no_drift() -> None:
    schema = StructType(
        [
            StructField("Id", StringType()),
            StructField("BillingCountry", StringType()),
            StructField("AnnualRevenue", DoubleType()),
            StructField("Phone", StringType()),
            StructField(
                "props",
                StructType([StructField("email", StringType()), StructField("zip", StringType())]),
            ),
            StructField("_ingested_at", StringType()),  # pipeline metadata is ignored
        ]
    )
    assert detect_drift(CONTRACT, schema) == []


def test_finds_added_removed_renamed_and_retyped_columns_with_their_actions() -> None:
    schema = StructType(
        [
            StructField("Id", StringType()),
            StructField("Billing_Country", StringType()),  # renamed
            StructField("AnnualRevenue", LongType()),  # retyped
            StructField("AccountSource", StringType()),  # added
            StructField(
                "props",
                StructType(
                    [StructField("email", StringType()), StructField("postcode", StringType())]
                ),
            ),
        ]  # Phone removed; props.zip removed, props.postcode added (names too different)
    )
    findings = detect_drift(CONTRACT, schema, source="salesforce/2026-11-21/accounts.csv")
    assert _kinds(findings) == [
        ("added", "AccountSource", None, "warn"),
        ("added", "props.postcode", None, "warn"),
        ("removed", "Phone", None, "fail"),
        ("removed", "props.zip", None, "fail"),
        ("renamed", "BillingCountry", "Billing_Country", "fail"),
        ("retyped", "AnnualRevenue", None, "warn"),
    ]
    retyped = next(f for f in findings if f.kind is DriftKind.RETYPED)
    assert (retyped.expected_type, retyped.actual_type) == ("double", "bigint")
    assert retyped.rule_id == "bronze.accounts.AnnualRevenue.column_retyped"


def test_a_rename_needs_compatible_types() -> None:
    schema = StructType(
        [
            StructField("Id", StringType()),
            StructField("BillingCountry", StringType()),
            StructField("Annual_Revenue", StringType()),  # similar name, other type
            StructField("Phone", StringType()),
            StructField(
                "props",
                StructType([StructField("email", StringType()), StructField("zip", StringType())]),
            ),
        ]
    )
    assert _kinds(detect_drift(CONTRACT, schema)) == [
        ("added", "Annual_Revenue", None, "warn"),
        ("removed", "AnnualRevenue", None, "fail"),
    ]


def test_file_drift_from_the_ledger_columns_and_plain_names() -> None:
    findings = detect_file_drift(
        CONTRACT, missing_columns=["Phone", "BillingCountry"], extra_columns=["billingcountry", "X"]
    )
    assert _kinds(findings) == [
        ("added", "X", None, "warn"),
        ("removed", "Phone", None, "fail"),
        ("renamed", "BillingCountry", "billingcountry", "fail"),
    ]
    names = ["Id", "BillingCountry", "AnnualRevenue", "Phone", "props.email", "props.zip", "Extra"]
    assert _kinds(detect_drift(CONTRACT, names)) == [("added", "Extra", None, "warn")]


def test_default_policy_warns_on_added_and_fails_on_the_rest() -> None:
    default = contract([column("a", "string")])
    assert default.drift.action(DriftKind.ADDED) is Action.WARN
    assert default.drift.action(DriftKind.REMOVED) is Action.FAIL


def test_fail_findings_raise_and_all_findings_become_results() -> None:
    findings = detect_file_drift(
        CONTRACT, missing_columns=["Phone"], extra_columns=["X"], source="f.csv"
    )
    with pytest.raises(SchemaDriftError) as err:
        raise_for_drift(findings)
    assert (
        "bronze.accounts.Phone.column_removed: column 'Phone' was not delivered (in f.csv)"
        in str(err.value)
    )
    assert "column_added" not in str(err.value)
    raise_for_drift([f for f in findings if f.action is Action.WARN])  # warnings do not raise

    at = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    results = drift_results(findings, run_id="r", checked_at=at)
    assert sorted((r.rule_id, r.rule_kind, r.action, r.passed, r.engine) for r in results) == [
        ("bronze.accounts.Phone.column_removed", "schema_removed", "fail", False, "schema"),
        ("bronze.accounts.X.column_added", "schema_added", "warn", False, "schema"),
    ]


def test_rescued_keys_of_jsonl_rows_are_the_added_columns(spark: SparkSession) -> None:
    bronze = spark.createDataFrame(
        [
            ('{"AccountSource":"Web"}',),
            (None,),
            ('{"properties.hs_score":"7","AccountSource":"x"}',),
        ],
        "_rescued string",
    )
    extra = rescued_columns(bronze)
    assert extra == ["AccountSource", "properties.hs_score"]
    findings = detect_file_drift(CONTRACT, missing_columns=[], extra_columns=extra)
    assert _kinds(findings) == [
        ("added", "AccountSource", None, "warn"),
        ("added", "properties.hs_score", None, "warn"),
    ]
