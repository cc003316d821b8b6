"""Contracts compiled into Great Expectations suites that really run, in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from great_expectations.datasource.fluent.interfaces import Batch
from pyspark.sql import SparkSession

from crm_lakehouse.contracts import RuleResult, build_suite, enforce

from ._support import REF, column, contract, custom, lib

ROW_RULES = contract(
    [
        column(
            "id",
            "string",
            lib("notNull", "warn"),
            lib("regex", "warn", args={"pattern": "^[a-z]+$"}),
        ),
        column(
            "stage", "string", lib("acceptedValues", "warn", args={"validValues": ["open", "won"]})
        ),
        column("amount", "double", lib("range", "warn", args={"min": 0, "max": 100}, mostly=0.5)),
        column("email", "string", lib("format", "warn", args={"format": "email"})),
        column("country", "string", lib("format", "warn", args={"format": "iso_country"})),
    ],
    [
        custom("small_amounts", "amount < 50", "warn"),
        lib("unique", "warn", args={"properties": ["id", "stage"]}),
        lib("rowCount", "warn", mustBeGreaterOrEqualTo=1),
    ],
)
ROWS = [
    ("ann", "open", 10.0, "ann@acme.com", "US"),
    ("bob", "lost", -1.0, "bob@acme", "USA"),
    ("Cy", "won", 70.0, None, "GB"),
    (None, None, None, "dee@acme.com", None),
    ("ann", "open", 120.0, "x", "gb"),
]
SCHEMA = "id string, stage string, amount double, email string, country string"


def test_suite_holds_table_rules_and_optionally_row_rules() -> None:
    table_only = build_suite(ROW_RULES, reference_time=REF)
    assert table_only.name == "silver-things"
    assert sorted(e.expectation_type for e in table_only.expectations) == [
        "expect_column_values_to_be_unique",
        "expect_table_row_count_to_be_between",
    ]
    full = build_suite(ROW_RULES, reference_time=REF, include_row_rules=True)
    types = sorted(e.expectation_type for e in full.expectations)
    assert types == [
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_be_null",
        "expect_table_row_count_to_be_between",
        "unexpected_rows_expectation",
    ]
    by_rule = {e.meta["rule_id"]: e for e in full.expectations}
    amount = by_rule["silver.things.amount.range"].configuration.kwargs
    assert (amount["min_value"], amount["max_value"], amount["mostly"]) == (0, 100, 0.5)
    assert by_rule["silver.things.amount.range"].meta["action"] == "warn"


def test_gx_results_agree_with_the_row_predicates(spark: SparkSession) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    with enforce(df, ROW_RULES, run_id="r", reference_time=REF, gx_row_rules=True) as res:
        spark_counts = {r.rule_id: r.unexpected_count for r in res.results if r.engine == "spark"}
        gx_counts = {
            r.rule_id: r.unexpected_count for r in res.results if r.engine == "great_expectations"
        }
        assert spark_counts == {
            "silver.things.id.not_null": 1,
            "silver.things.id.regex": 1,
            "silver.things.stage.accepted_values": 1,
            "silver.things.amount.range": 2,
            "silver.things.email.format": 2,
            "silver.things.country.format": 2,
            "silver.things.small_amounts": 2,
        }
        for rule_id, count in spark_counts.items():
            assert gx_counts[rule_id] == count, rule_id
        spark_passed = {r.rule_id: r.passed for r in res.results if r.engine == "spark"}
        gx_passed = {r.rule_id: r.passed for r in res.results if r.engine == "great_expectations"}
        assert all(gx_passed[k] == v for k, v in spark_passed.items()), (spark_passed, gx_passed)
        assert gx_counts["silver.things.id+stage.unique"] == 2


def test_the_context_is_ephemeral_and_writes_nothing(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    df = spark.createDataFrame(ROWS, SCHEMA)
    with enforce(df, ROW_RULES, run_id="r", reference_time=REF, gx_row_rules=True) as res:
        assert res.gx_validation is not None
    assert list(tmp_path.iterdir()) == []


KEYED = contract(
    [column("id", "string"), column("email", "string", classification="pii")],
    [
        lib("unique", "warn", args={"properties": ["id"]}),
        lib("unique", "warn", args={"properties": ["email"]}, mostly=0.5),
    ],
)


def _gx(results: tuple[RuleResult, ...]) -> dict[str, RuleResult]:
    return {r.rule_id: r for r in results if r.engine == "great_expectations"}


def test_unique_keys_pass_on_the_aggregate_screen_alone(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[list[str]] = []
    validate = Batch.validate

    def counted(self: Batch, suite: Any, **kwargs: Any) -> Any:
        passes.append(sorted(e.expectation_type for e in suite.expectations))
        return validate(self, suite, **kwargs)

    monkeypatch.setattr(Batch, "validate", counted)
    df = spark.createDataFrame(
        [("a", "a@x.io"), ("b", "b@x.io"), (None, None)], "id string, email string"
    )

    with enforce(df, KEYED, run_id="r", reference_time=REF) as res:
        got = _gx(res.results)

    assert passes == [["expect_column_proportion_of_unique_values_to_be_between"] * 2]
    for rule_id in ("silver.things.id.unique", "silver.things.email.unique"):
        r = got[rule_id]
        assert (r.passed, r.unexpected_count, r.element_count) == (True, 0, 3), rule_id
        assert r.observed_value == "0 of 3 rows (0%)"


def test_a_failed_screen_is_measured_exactly_with_mostly_and_pii_respected(
    spark: SparkSession,
) -> None:
    rows = [("a", "a@x.io"), ("a", "a@x.io"), ("b", "b@x.io"), ("c", "c@x.io")]
    df = spark.createDataFrame(rows, "id string, email string")

    with enforce(df, KEYED, run_id="r", reference_time=REF) as res:
        got = _gx(res.results)
        docs = {r["expectation_config"]["meta"]["rule_id"]: r for r in res.gx_validation["results"]}

    ids, emails = got["silver.things.id.unique"], got["silver.things.email.unique"]
    assert (ids.passed, ids.unexpected_count, ids.element_count) == (False, 2, 4)
    assert ids.details["partial_unexpected_list"] == ["a", "a"]
    # Two of four rows (50%) share an email: within mostly 0.5, and no sample of PII values.
    assert (emails.passed, emails.unexpected_count) == (True, 2)
    assert "partial_unexpected_list" not in emails.details
    assert "partial_unexpected_list" not in docs["silver.things.email.unique"]["result"]
    assert docs["silver.things.id.unique"]["expectation_config"]["type"] == (
        "expect_column_values_to_be_unique"
    )
