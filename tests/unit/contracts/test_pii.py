"""Results never contain values of PII columns; non-PII samples are kept (so this can fail)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse.contracts import enforce
from crm_lakehouse.contracts.gx_suite import scrub_result
from crm_lakehouse.errors import ContractFailed

from ._support import REF, column, contract, custom, lib

SECRETS = ["jane.secret@example.com", "not-an-address-jane", "+44 7700 900123"]

CONTRACT = contract(
    [
        column(
            "code",
            "string",
            lib("unique", "warn"),
            lib("regex", "warn", args={"pattern": "^[A-Z]+$"}),
            unique=True,
        ),
        column(
            "email",
            "string",
            lib("format", "warn", args={"format": "email"}),
            lib("unique", "warn"),
            lib("acceptedValues", "warn", args={"validValues": ["ok@example.com"]}),
            classification="pii",
            unique=True,
        ),
        column(
            "phone", "string", lib("format", "warn", args={"format": "e164"}), classification="pii"
        ),
    ],
    [custom("short_email", "length(email) < 20", "warn")],
)
ROWS = [
    ("AAA", SECRETS[0], SECRETS[2]),
    ("AAA", SECRETS[0], SECRETS[2]),
    ("bbb-visible", SECRETS[1], "+14155550100"),
]
SCHEMA = "code string, email string, phone string"


def _dump(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=str)


def test_results_and_gx_validation_hold_no_pii_values(spark: SparkSession) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    with enforce(df, CONTRACT, run_id="r", reference_time=REF, gx_row_rules=True) as res:
        everything = _dump([dataclasses.asdict(r) for r in res.results]) + _dump(res.gx_validation)
        reasons = _dump([r.asDict() for r in res.quarantined.select("_reasons").collect()])
        for secret in SECRETS:
            assert secret not in everything
            assert secret not in reasons
        # The PII rules still report their counts...
        email_unique = [
            r
            for r in res.results
            if r.rule_id == "silver.things.email.unique" and r.engine == "great_expectations"
        ]
        assert email_unique[0].unexpected_count == 2 and email_unique[0].details == {}
        # ...and the non-PII rules keep a sample of unexpected values.
        code_unique = [
            r
            for r in res.results
            if r.rule_id == "silver.things.code.unique" and r.engine == "great_expectations"
        ]
        assert code_unique[0].details["partial_unexpected_list"] == ["AAA", "AAA"]
        assert "bbb-visible" in everything  # the non-PII regex sample: scrubbing is targeted
        gx_results = {
            r["expectation_config"]["meta"]["rule_id"]: r["result"]
            for r in res.gx_validation["results"]  # type: ignore[index]
        }
        assert "partial_unexpected_list" not in gx_results["silver.things.email.format"]
        assert "partial_unexpected_list" in gx_results["silver.things.code.regex"]


def test_a_failure_message_on_a_pii_column_holds_counts_only(spark: SparkSession) -> None:
    strict = contract(
        [
            column(
                "email",
                "string",
                lib("format", "fail", args={"format": "email"}),
                classification="pii",
            )
        ]
    )
    df = spark.createDataFrame([(SECRETS[1],), (SECRETS[0],)], "email string")
    with pytest.raises(ContractFailed) as err:
        enforce(df, strict, run_id="r", reference_time=REF)
    assert "silver.things.email.format: observed 1 of 2 rows (50%)" in str(err.value)
    assert not any(s in str(err.value) + _dump(list(err.value.results)) for s in SECRETS)


def test_scrub_result_drops_every_value_bearing_key() -> None:
    result = {
        "element_count": 3,
        "unexpected_count": 1,
        "partial_unexpected_list": [SECRETS[0]],
        "partial_unexpected_counts": [{"value": SECRETS[0], "count": 1}],
        "unexpected_list": [SECRETS[0]],
        "observed_value": SECRETS[0],
    }
    assert scrub_result(result) == {"element_count": 3, "unexpected_count": 1}
