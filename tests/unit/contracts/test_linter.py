"""lint(): a contract against a table's real schema."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.contracts import lint

from ._support import column, contract, custom, lib

CONTRACT = contract(
    [
        column("id", "string", lib("notNull", "fail"), required=True),
        column("system", "string", required=True),
        column("amount", "double"),
        column(
            "props",
            "struct",
            classification="pii",
            logicalType="object",
            properties=[column("email", "string", classification="pii"), column("n", "bigint")],
        ),
    ],
    [custom("positive", "amount > 0", "warn")],
)

MATCHING = StructType(
    [
        StructField("id", StringType(), True),  # nullable, but a notNull rule enforces it
        StructField("system", StringType(), False),
        StructField("amount", DoubleType(), True),
        StructField(
            "props",
            StructType([StructField("email", StringType()), StructField("n", LongType())]),
        ),
    ]
)


def test_a_matching_schema_has_no_problems(spark: SparkSession) -> None:
    assert lint(CONTRACT, MATCHING) == []
    assert lint(CONTRACT, MATCHING, spark=spark) == []


def test_reports_missing_extra_retyped_and_nullability_problems() -> None:
    actual = StructType(
        [
            StructField("id", StringType(), True),
            StructField("system", StringType(), True),  # required, nullable, no notNull rule
            StructField("amount", StringType(), False),  # retyped and NOT NULL
            StructField(
                "props",
                StructType(
                    [StructField("email", StringType()), StructField("extra", StringType())]
                ),
            ),
            StructField("added_at", TimestampType()),
        ]
    )
    problems = lint(CONTRACT, actual)
    assert problems == [
        "silver.things: column 'system' is required, but the table allows nulls and no notNull "
        "rule enforces it",
        "silver.things: column 'amount': the contract says double, the table has string",
        "silver.things: column 'amount' is NOT NULL in the table, but the contract says required: false",
        "silver.things: column 'props.n' (bigint) is in the contract but not in the table",
        "silver.things: column 'props.extra' (string) is in the table but not in the contract",
        "silver.things: column 'added_at' (timestamp) is in the table but not in the contract",
    ]


def test_with_spark_custom_predicates_are_analysed_against_the_schema(spark: SparkSession) -> None:
    broken = contract([column("amount", "double")], [custom("typo", "amout > 0", "warn")])
    problems = lint(broken, StructType([StructField("amount", DoubleType())]), spark=spark)
    assert len(problems) == 1
    assert problems[0].startswith("silver.things.typo: the predicate 'amout > 0' does not analyse")
