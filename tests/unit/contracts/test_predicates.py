"""Row rules compiled into Spark predicates: each kind flags exactly the rows breaking it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from crm_lakehouse.contracts import attach_references, row_checks, violation
from crm_lakehouse.contracts.spark_types import parse_type

from ._support import column, contract, custom, lib

D = dt.date

CASES: list[tuple[str, dict[str, Any], str, list[Any], list[bool]]] = [
    ("not_null", lib("notNull", "warn"), "string", ["a", None, ""], [False, True, False]),
    (
        "accepted_values",
        lib("acceptedValues", "warn", args={"validValues": ["x", "y"]}),
        "string",
        ["x", "z", None, "Y"],
        [False, True, False, True],
    ),
    (
        "range_numeric",
        lib("range", "warn", args={"min": 0, "max": 10}),
        "double",
        [-0.5, 0.0, 10.0, 10.5, None],
        [True, False, False, True, False],
    ),
    (
        "range_min_only",
        lib("range", "warn", args={"min": 1}),
        "bigint",
        [0, 1, 5000000000],
        [True, False, False],
    ),
    (
        "range_dates",
        lib("range", "warn", args={"min": "2020-01-01", "max": "2020-12-31"}),
        "date",
        [D(2019, 12, 31), D(2020, 6, 1), D(2021, 1, 1), None],
        [True, False, True, False],
    ),
    (
        "format_email",
        lib("format", "warn", args={"format": "email"}),
        "string",
        ["ann@acme.com", "ANN@ACME.CO.UK", "ann@acme", " ann@acme.com", None],
        [False, False, True, True, False],
    ),
    (
        "format_domain",
        lib("format", "warn", args={"format": "domain"}),
        "string",
        ["acme.com", "sub.acme.co.uk", "http://acme.com", "acme", "-acme.com"],
        [False, False, True, True, True],
    ),
    (
        "format_iso_country",
        lib("format", "warn", args={"format": "iso_country"}),
        "string",
        ["US", "GB", "XX", "us", "USA"],
        [False, False, True, True, True],
    ),
    (
        "format_e164",
        lib("format", "warn", args={"format": "e164"}),
        "string",
        ["+14155550100", "+441313888642", "0131 388 8642", "+0123", None],
        [False, False, True, True, False],
    ),
    (
        "regex",
        lib("regex", "warn", args={"pattern": "^[A-Z]{3}$"}),
        "string",
        ["USD", "usd", "US", "EURO"],
        [False, True, True, True],
    ),
]


def _frame(spark: SparkSession, physical: str, values: list[Any]) -> DataFrame:
    schema = StructType(
        [StructField("row", StringType(), False), StructField("v", parse_type(physical))]
    )
    return spark.createDataFrame([(str(i), v) for i, v in enumerate(values)], schema)


def _expected(spark: SparkSession, flags: list[bool]) -> DataFrame:
    schema = StructType(
        [StructField("row", StringType(), False), StructField("violated", BooleanType(), False)]
    )
    return spark.createDataFrame([(str(i), f) for i, f in enumerate(flags)], schema)


@pytest.mark.parametrize(
    ("kind", "rule", "physical", "values", "flags"), CASES, ids=[c[0] for c in CASES]
)
def test_each_row_rule_flags_exactly_the_rows_breaking_it(
    spark: SparkSession,
    kind: str,
    rule: dict[str, Any],
    physical: str,
    values: list[Any],
    flags: list[bool],
) -> None:
    c = contract([column("row", "string"), column("v", physical, rule)])
    (compiled,) = c.rules
    df = _frame(spark, physical, values)
    actual = df.select("row", violation(compiled, c).alias("violated"))
    assert_df_equality(actual, _expected(spark, flags), ignore_row_order=True, ignore_nullable=True)


def test_custom_predicates_pass_rows_where_the_predicate_is_null(spark: SparkSession) -> None:
    c = contract(
        [column("row", "string"), column("v", "double")],
        [custom("positive", "v > 0", "warn")],
    )
    df = _frame(spark, "double", [1.0, -1.0, None])
    actual = df.select("row", violation(c.rules[0], c).alias("violated"))
    assert_df_equality(
        actual, _expected(spark, [False, True, False]), ignore_row_order=True, ignore_nullable=True
    )


def test_rules_on_struct_fields_use_the_dotted_path(spark: SparkSession) -> None:
    c = contract(
        [
            column(
                "props",
                "struct",
                logicalType="object",
                properties=[
                    column("email", "string", lib("format", "warn", args={"format": "email"}))
                ],
            )
        ]
    )
    (rule,) = c.rules
    assert rule.id == "silver.things.props.email.format"
    df = spark.createDataFrame(
        [({"email": "a@b.co"},), ({"email": "nope"},)], "props struct<email:string>"
    )
    assert [r[0] for r in df.select(violation(rule, c)).collect()] == [False, True]


@pytest.mark.parametrize(
    ("max_listed", "joined"),
    [(1000, False), (1, False), (0, True)],
    ids=["listed", "listed-at-the-limit", "joined"],
)
def test_referential_rules_flag_values_missing_from_the_target(
    spark: SparkSession, max_listed: int, joined: bool
) -> None:
    c = contract(
        [
            column("row", "string"),
            column(
                "company",
                "string",
                lib("referential", "warn", args={"references": "silver.companies.id"}),
            ),
        ]
    )
    companies = spark.createDataFrame([("c1",), ("c1",), ("c2",), (None,)], "id string")
    df = _frame(spark, "string", ["c1", "c3", None, "c2"]).withColumnRenamed("v", "company")
    seen: list[str] = []

    def resolve(table: str) -> DataFrame:
        seen.append(table)
        return companies

    widened, missing = attach_references(df, c, resolve, max_listed=max_listed)
    (check,) = row_checks(c, missing)
    actual = widened.select("row", check.violated.alias("violated"))
    assert seen == ["silver.companies"]
    # One value (c3) is missing: listed in the predicate up to max_listed, else joined.
    assert (widened is not df) is joined
    if not joined:
        assert missing == {"silver.things.company.referential": "`company` IN ('c3')"}
    assert widened.count() == 4  # duplicates in the target do not multiply rows
    assert_df_equality(
        actual,
        _expected(spark, [False, True, False, False]),
        ignore_row_order=True,
        ignore_nullable=True,
    )


@pytest.mark.parametrize(
    ("type_name", "values", "targets", "joined"),
    [
        ("bigint", [1, 7, None], [1, 2], False),
        ("date", [D(2020, 1, 1), D(2020, 1, 2), None], [D(2020, 1, 1)], True),
    ],
    ids=["integer-listed", "date-joined"],
)
def test_referential_values_are_listed_only_for_exact_literal_types(
    spark: SparkSession, type_name: str, values: list[Any], targets: list[Any], joined: bool
) -> None:
    c = contract(
        [column("v", type_name, lib("referential", "warn", args={"references": "silver.t.id"}))]
    )
    df = _frame(spark, type_name, values)
    target = spark.createDataFrame([(t,) for t in targets], f"id {type_name}")
    widened, missing = attach_references(df, c, lambda _t: target)
    (check,) = row_checks(c, missing)
    assert (widened is not df) is joined
    actual = widened.select("row", check.violated.alias("violated"))
    assert_df_equality(
        actual, _expected(spark, [False, True, False]), ignore_row_order=True, ignore_nullable=True
    )


def test_no_missing_value_compiles_to_a_constant_predicate(spark: SparkSession) -> None:
    c = contract(
        [column("v", "string", lib("referential", "fail", args={"references": "silver.t.id"}))]
    )
    df = _frame(spark, "string", ["a", None])
    target = spark.createDataFrame([("a",), ("b",)], "id string")
    widened, missing = attach_references(df, c, lambda _t: target)
    assert widened is df
    assert list(missing.values()) == ["FALSE"]
    (check,) = row_checks(c, missing)
    assert [r[0] for r in df.select(check.violated).collect()] == [False, False]


def test_referential_rules_are_skipped_when_the_target_is_missing(spark: SparkSession) -> None:
    c = contract(
        [
            column(
                "company", "string", lib("referential", "warn", args={"references": "silver.x.id"})
            )
        ]
    )
    df = spark.createDataFrame([("c1",)], "company string")
    widened, flags = attach_references(df, c, lambda _t: None)
    assert flags == {"silver.things.company.referential": None}
    assert row_checks(c, flags) == []
    assert widened.columns == ["company"]


def test_table_level_rules_do_not_compile_to_row_predicates() -> None:
    c = contract([column("id", "string", lib("unique", "fail"), unique=True)])
    with pytest.raises(ValueError, match="table-level rule"):
        violation(c.rules[0], c)


def test_the_email_format_is_the_one_silver_normalises_to(spark: SparkSession) -> None:
    from crm_lakehouse import normalise  # imported late: it may build Spark UDFs on import
    from crm_lakehouse.contracts.formats import EMAIL_PATTERN, FORMATS, NamedFormat

    assert EMAIL_PATTERN == normalise.EMAIL_PATTERN
    assert FORMATS[NamedFormat.EMAIL].pattern == "(?i)" + normalise.EMAIL_PATTERN
