from __future__ import annotations

import pytest
from pyspark.sql.types import (
    ArrayType,
    DecimalType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.contracts.spark_types import TypeStringError, canonical, parse_type, same_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string", "string"),
        ("long", "bigint"),
        ("BIGINT", "bigint"),
        ("integer", "int"),
        ("timestamp", "timestamp"),
        ("decimal(12, 2)", "decimal(12,2)"),
        ("decimal", "decimal(10,0)"),
        ("array<string>", "array<string>"),
        ("map<string, bigint>", "map<string,bigint>"),
        ("struct<a:string, b: array<double>>", "struct<a:string,b:array<double>>"),
    ],
)
def test_parses_spark_type_strings_to_their_canonical_form(text: str, expected: str) -> None:
    assert canonical(parse_type(text)) == expected


def test_parsed_types_are_real_pyspark_types() -> None:
    parsed = parse_type("struct<id:bigint,tags:array<string>,at:timestamp>")
    assert parsed == StructType(
        [
            StructField("id", LongType()),
            StructField("tags", ArrayType(StringType())),
            StructField("at", TimestampType()),
        ]
    )
    assert parse_type("map<string,decimal(5,1)>") == MapType(StringType(), DecimalType(5, 1))


@pytest.mark.parametrize(
    "text", ["", "strin", "array<string", "struct<a string>", "decimal(x)", "string string"]
)
def test_rejects_what_is_not_a_type(text: str) -> None:
    with pytest.raises(TypeStringError):
        parse_type(text)


def test_same_type_ignores_nullability() -> None:
    assert same_type(ArrayType(StringType(), False), parse_type("array<string>"))
    assert not same_type(LongType(), parse_type("int"))
