"""enforce(): every action, row and table rules, on 3-6 row frames."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from crm_lakehouse.contracts import Contract, enforce, quarantine_schema
from crm_lakehouse.contracts.enforcement import validation_queries
from crm_lakehouse.contracts.spark_types import same_type
from crm_lakehouse.errors import ContractFailed, ContractViolation

from ._support import REF, column, contract, custom, lib

SCHEMA = StructType(
    [
        StructField("id", StringType()),
        StructField("email", StringType()),
        StructField("amount", DoubleType()),
    ]
)
CHECKED_AT = dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC)


def _df(spark: SparkSession, rows: list[tuple[object, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, SCHEMA)


def _contract(
    *,
    id_action: str = "fail",
    email_action: str = "quarantine",
    amount_action: str = "warn",
    mostly: float | None = None,
) -> Contract:
    return contract(
        [
            column("id", "string", lib("notNull", id_action, mostly=mostly)),
            column(
                "email",
                "string",
                lib("format", email_action, args={"format": "email"}),
                classification="pii",
            ),
            column("amount", "double", lib("range", amount_action, args={"min": 0})),
        ]
    )


def _run(df: DataFrame, c: Contract, **kwargs: object):  # type: ignore[no-untyped-def]
    return enforce(df, c, run_id="run-1", reference_time=REF, checked_at=CHECKED_AT, **kwargs)  # type: ignore[arg-type]


def _result(res, rule_id: str):  # type: ignore[no-untyped-def]
    (found,) = [r for r in res.results if r.rule_id == rule_id]
    return found


GOOD = [("a", "ann@acme.com", 1.0), ("b", "bob@acme.com", 2.0), ("c", None, None)]


def test_clean_rows_are_all_published_and_every_rule_passes(spark: SparkSession) -> None:
    df = _df(spark, GOOD)
    with _run(df, _contract()) as res:
        assert_df_equality(res.published, df, ignore_row_order=True)
        assert (res.rows_in, res.rows_published, res.rows_dropped, res.rows_quarantined) == (
            3,
            3,
            0,
            0,
        )
        assert res.quarantined.count() == 0
        assert all(r.passed for r in res.results) and not res.failed
        assert {r.engine for r in res.results} == {"spark"}
        res.raise_if_failed()


def test_warn_records_and_keeps_the_rows(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, ("d", "dan@acme.com", -5.0)])
    with _run(df, _contract(amount_action="warn")) as res:
        assert_df_equality(res.published, df, ignore_row_order=True)
        r = _result(res, "silver.things.amount.range")
        assert (r.passed, r.action, r.unexpected_count, r.element_count) == (False, "warn", 1, 4)
        assert r.unexpected_percent == pytest.approx(25.0)
        assert r.observed_value == "1 of 4 rows (25%)"
        assert r.threshold == "no violating rows"
        assert res.warnings == (r,)


def test_drop_removes_and_counts_the_rows(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, ("d", "dan@acme.com", -5.0), ("e", "eve@acme.com", -1.0)])
    with _run(df, _contract(amount_action="drop")) as res:
        assert_df_equality(res.published, _df(spark, GOOD), ignore_row_order=True)
        assert (res.rows_published, res.rows_dropped, res.rows_quarantined) == (3, 2, 0)
        assert res.quarantined.count() == 0
        assert _result(res, "silver.things.amount.range").unexpected_count == 2


def test_quarantine_holds_rows_with_run_rule_ids_and_reasons(spark: SparkSession) -> None:
    bad = ("d", "not-an-email", -5.0)  # breaks the quarantine rule and the warn rule
    df = _df(spark, [*GOOD, bad])
    with _run(df, _contract(email_action="quarantine", amount_action="warn")) as res:
        assert_df_equality(res.published, _df(spark, GOOD), ignore_row_order=True)
        assert (res.rows_published, res.rows_dropped, res.rows_quarantined) == (3, 0, 1)
        expected = spark.createDataFrame(
            [
                (
                    "run-1",
                    ["silver.things.email.format", "silver.things.amount.range"],
                    [
                        "silver.things.email.format: email is not a plausible email address "
                        "(local@domain.tld, any case)",
                        "silver.things.amount.range: amount is outside the range >= 0",
                    ],
                    CHECKED_AT,
                    *bad,
                )
            ],
            quarantine_schema(SCHEMA),
        )
        assert_df_equality(res.quarantined, expected, ignore_nullable=True)
        assert res.quarantine_table == "silver.things__quarantine"


def test_a_row_breaking_drop_and_quarantine_rules_is_quarantined_not_dropped(
    spark: SparkSession,
) -> None:
    df = _df(spark, [*GOOD, ("d", "nope", -5.0), ("e", "eve@acme.com", -1.0)])
    with _run(df, _contract(email_action="quarantine", amount_action="drop")) as res:
        assert (res.rows_published, res.rows_dropped, res.rows_quarantined) == (3, 1, 1)
        assert [r["id"] for r in res.quarantined.collect()] == ["d"]
        assert sorted(r["id"] for r in res.published.collect()) == ["a", "b", "c"]


def test_fail_raises_before_anything_is_published_naming_table_rule_observed_and_threshold(
    spark: SparkSession,
) -> None:
    df = _df(spark, [*GOOD, (None, "x@acme.com", 1.0)])
    with pytest.raises(ContractFailed) as err:
        _run(df, _contract(id_action="fail"))
    message = str(err.value)
    assert "silver.things: data contract failed, nothing was published" in message
    assert (
        "silver.things.id.not_null: observed 1 of 4 rows (25%); threshold: no violating rows"
        in message
    )
    assert isinstance(err.value, ContractViolation) and err.value.exit_code == 4
    assert err.value.table == "silver.things"
    assert err.value.failures == [
        ("silver.things.id.not_null", "1 of 4 rows (25%)", "no violating rows")
    ]
    assert {r.rule_id for r in err.value.results} >= {"silver.things.id.not_null"}


def test_fail_with_mostly_tolerates_a_few_rows_and_publishes_them(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, (None, "x@acme.com", 1.0)])
    with _run(df, _contract(id_action="fail", mostly=0.7)) as res:
        r = _result(res, "silver.things.id.not_null")
        assert r.passed and r.unexpected_count == 1
        assert r.threshold == "at most 30% violating rows (mostly 0.7)"
        assert res.rows_published == 4
    with pytest.raises(ContractFailed):
        _run(df, _contract(id_action="fail", mostly=0.8))


def test_a_cached_input_is_not_cached_twice(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, ("d", "nope", 1.0)]).cache()
    try:
        with _run(df, _contract()) as res:
            assert res.cached is None
            assert res.rows_quarantined == 1 and res.published.count() == 3
        with _run(_df(spark, GOOD), _contract()) as res:
            assert res.cached is not None and res.cached.is_cached
        assert not res.cached.is_cached  # released on leaving the with block
    finally:
        df.unpersist()


def _reads_cache(df: DataFrame) -> bool:
    return "InMemoryTableScan" in df._jdf.queryExecution().executedPlan().toString()


def test_published_and_held_rows_are_read_from_the_cached_input(spark: SparkSession) -> None:
    # A derived, cached frame, as the guard hands over: the projections must read the cache,
    # never recompute the input (for Bronze, parse the files again).
    df = _df(spark, [*GOOD, ("d", "nope", 1.0)]).where("id IS NOT NULL").cache()
    try:
        df.count()
        with _run(df, _contract()) as res:
            assert res.cached is None
            assert _reads_cache(res.published) and _reads_cache(res.quarantined)
            assert res.published.count() == 3
    finally:
        df.unpersist()


@pytest.mark.parametrize("before", ["true", "false"])
def test_validation_queries_run_without_adaptive_execution_then_restore_it(
    spark: SparkSession, before: str
) -> None:
    key = "spark.sql.adaptive.enabled"
    spark.conf.set(key, before)
    try:
        with validation_queries(spark):
            assert spark.conf.get(key) == "false"
        assert spark.conf.get(key) == before
        with pytest.raises(ContractFailed):  # restored when the contract fails, too
            _run(_df(spark, [(None, "ann@acme.com", 1.0)]), _contract())
        assert spark.conf.get(key) == before
    finally:
        spark.conf.set(key, "true")


def test_raise_on_fail_false_returns_the_failure_for_the_caller(spark: SparkSession) -> None:
    df = _df(spark, [(None, "x@acme.com", 1.0)])
    with _run(df, _contract(id_action="fail"), raise_on_fail=False) as res:
        assert res.failed
        assert [r.rule_id for r in res.failures] == ["silver.things.id.not_null"]
        with pytest.raises(ContractFailed, match=r"silver\.things\.id\.not_null"):
            res.raise_if_failed()


def _jobs_for(spark: SparkSession, df: DataFrame, c: Contract, group: str) -> int:
    sc = spark.sparkContext
    sc.setJobGroup(group, "enforce with row rules only")
    try:
        res = _run(df, c)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    res.unpersist()
    return len(sc.statusTracker().getJobIdsForGroup(group))


def test_row_rules_are_counted_in_one_pass_whatever_their_number(spark: SparkSession) -> None:
    one_rule = contract(
        [
            column("id", "string", lib("notNull", "warn")),
            column("email"),
            column("amount", "double"),
        ]
    )
    five_rules = contract(
        [
            column(
                "id",
                "string",
                lib("notNull", "warn"),
                lib("regex", "drop", args={"pattern": "^[a-z]$"}),
            ),
            column("email", "string", lib("format", "quarantine", args={"format": "email"})),
            column("amount", "double", lib("range", "warn", args={"min": 0, "max": 5})),
        ],
        [custom("small", "amount < 3", "warn")],
    )
    df = _df(spark, [*GOOD, ("D", "x", 9.0)])
    jobs_one = _jobs_for(spark, df, one_rule, "contracts-one-rule")
    jobs_five = _jobs_for(spark, df, five_rules, "contracts-five-rules")
    # One aggregation query (adaptive execution may run its stages as separate jobs).
    assert jobs_five == jobs_one
    assert jobs_one <= 3


# --------------------------------------------------------------------------- table rules (GX)

EVENTS = StructType(
    [
        StructField("system", StringType()),
        StructField("key", StringType()),
        StructField("email", StringType()),
        StructField("modified_at", TimestampType()),
        StructField("as_of", DateType()),
    ]
)
T = dt.datetime


def _events(spark: SparkSession, rows: list[tuple[object, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, EVENTS)


def _table_contract(action: str = "fail", rows: tuple[int, int] = (1, 10)) -> Contract:
    return contract(
        [
            column("system", "string"),
            column("key", "string"),
            column(
                "email",
                "string",
                lib("unique", action),
                lib("format", "quarantine", args={"format": "email"}),
                classification="pii",
                unique=True,
            ),
            column(
                "modified_at",
                "timestamp",
                lib("freshness", action, mustBeLessOrEqualTo=24, unit="hours"),
            ),
            column("as_of", "date", lib("freshness", action, mustBeLessOrEqualTo=30, unit="days")),
        ],
        [
            lib("unique", action, args={"properties": ["system", "key"]}),
            lib("rowCount", action, mustBeBetween=list(rows)),
        ],
    )


FRESH = [
    ("crm", "1", "a@x.io", T(2026, 11, 20, 1), dt.date(2026, 11, 1)),
    ("crm", "2", "b@x.io", T(2026, 11, 19, 13), dt.date(2026, 10, 25)),
    ("erp", "1", "c@x.io", T(2026, 11, 1), None),
]


ENGINES = pytest.mark.parametrize("engine", ["great_expectations", "spark"])


@ENGINES
def test_table_rules_pass_on_clean_data(spark: SparkSession, engine: str) -> None:
    with _run(_events(spark, FRESH), _table_contract(), table_rule_engine=engine) as res:
        gx = [r for r in res.results if not r.rule_kind.startswith(("not_null", "format"))]
        assert {r.engine for r in gx} == {engine}
        assert sorted(r.rule_id for r in gx) == [
            "silver.things.as_of.freshness",
            "silver.things.email.unique",
            "silver.things.modified_at.freshness",
            "silver.things.row_count",
            "silver.things.system+key.unique",
        ]
        assert all(r.passed for r in gx), gx
        assert _result(res, "silver.things.row_count").observed_value == "3 rows"
        assert _result(res, "silver.things.modified_at.freshness").observed_value == (
            "newest 2026-11-20T01:00:00+00:00 (11.0h old)"
        )
        if engine == "great_expectations":
            assert res.gx_validation is not None and res.gx_validation["success"] is True
        else:
            assert res.gx_validation is None  # no GX suite ran


@ENGINES
@pytest.mark.parametrize(
    ("rows", "rule_id", "observed"),
    [
        (
            [*FRESH, ("crm", "2", "d@x.io", T(2026, 11, 20), dt.date(2026, 11, 1))],
            "silver.things.system+key.unique",
            "2 of 4 rows (50%)",
        ),
        (
            [*FRESH[:2], ("erp", "1", "a@x.io", T(2026, 11, 1), None)],
            "silver.things.email.unique",
            "2 of 3 rows (66.67%)",
        ),
        (
            [(s, k, e, T(2026, 11, 19, 11), d) for s, k, e, _, d in FRESH],
            "silver.things.modified_at.freshness",
            "newest 2026-11-19T11:00:00+00:00 (25.0h old)",
        ),
        (
            [(s, k, e, m, dt.date(2026, 10, 1)) for s, k, e, m, _ in FRESH],
            "silver.things.as_of.freshness",
            "newest 2026-10-01T00:00:00+00:00 (1212.0h old)",
        ),
        ([], "silver.things.row_count", "0 rows"),
    ],
    ids=["compound-unique", "single-unique", "stale-timestamp", "stale-date", "too-few-rows"],
)
def test_each_broken_table_rule_fails_the_publish(
    spark: SparkSession, rows: list[tuple[object, ...]], rule_id: str, observed: str, engine: str
) -> None:
    df = _events(spark, rows)
    with pytest.raises(ContractFailed) as err:
        _run(df, _table_contract("fail"), table_rule_engine=engine)
    failures = {rid: obs for rid, obs, _ in err.value.failures}
    assert rule_id in failures, err.value.failures
    assert failures[rule_id] == observed
    assert f"{rule_id}: observed {observed}; threshold: " in str(err.value)


def test_broken_table_rules_with_warn_are_recorded_and_the_rows_published(
    spark: SparkSession,
) -> None:
    df = _events(spark, [*FRESH, ("crm", "2", "d@x.io", T(2026, 11, 20), None)])
    with _run(df, _table_contract("warn", rows=(1, 3))) as res:
        assert res.rows_published == 4 and not res.failed
        assert {r.rule_id for r in res.warnings} == {
            "silver.things.system+key.unique",
            "silver.things.row_count",
        }


@ENGINES
def test_table_rules_judge_the_rows_that_would_be_published(
    spark: SparkSession, engine: str
) -> None:
    # The duplicate key's second row is quarantined (bad email), so the key is unique again.
    df = _events(spark, [*FRESH, ("crm", "2", "not an email", T(2026, 11, 20), None)])
    with _run(df, _table_contract("fail"), table_rule_engine=engine) as res:
        assert res.rows_quarantined == 1
        assert _result(res, "silver.things.system+key.unique").passed


@ENGINES
def test_on_no_rows_uniqueness_and_freshness_hold_and_row_count_decides(
    spark: SparkSession, engine: str
) -> None:
    with _run(_events(spark, []), _table_contract("warn"), table_rule_engine=engine) as res:
        assert (
            _result(res, "silver.things.modified_at.freshness").observed_value == "no rows to check"
        )
        assert _result(res, "silver.things.email.unique").passed
        assert not _result(res, "silver.things.row_count").passed


def test_both_table_rule_engines_agree_on_keys_with_nulls(spark: SparkSession) -> None:
    rows = [
        ("crm", "1", "a@x.io", T(2026, 11, 20), None),
        ("crm", "1", None, T(2026, 11, 19), None),  # duplicate key; null email is ignored
        ("crm", None, None, T(2026, 11, 18), None),  # partly null key
        ("crm", None, "b@x.io", T(2026, 11, 17), None),  # the same partly null key again
        (None, None, "b@x.io", None, None),  # entirely null key: ignored; duplicate email
        (None, None, "c@x.io", None, None),
    ]
    outcomes = {}
    for engine in ("great_expectations", "spark"):
        res = _run(
            _events(spark, rows), _table_contract("warn", rows=(1, 5)), table_rule_engine=engine
        )
        outcomes[engine] = {
            r.rule_id: (r.passed, r.unexpected_count, r.observed_value)
            for r in res.results
            if r.engine == engine and r.rule_kind in ("unique", "row_count", "freshness")
        }
        res.unpersist()
    assert outcomes["spark"] == outcomes["great_expectations"]
    assert outcomes["spark"]["silver.things.system+key.unique"][1] == 4
    assert outcomes["spark"]["silver.things.email.unique"][1] == 2
    assert outcomes["spark"]["silver.things.row_count"][0] is False


def test_referential_rules_use_resolve_table(spark: SparkSession) -> None:
    c = contract(
        [
            column("id", "string"),
            column(
                "company",
                "string",
                lib("referential", "quarantine", args={"references": "silver.companies.id"}),
            ),
        ]
    )
    df = spark.createDataFrame([("1", "c1"), ("2", "c9"), ("3", None)], "id string, company string")
    companies = spark.createDataFrame([("c1",)], "id string")
    with _run(df, c, resolve_table=lambda t: companies if t == "silver.companies" else None) as res:
        assert [r["id"] for r in res.quarantined.collect()] == ["2"]
        assert res.published.columns == ["id", "company"]
        assert sorted(r["id"] for r in res.published.collect()) == ["1", "3"]
    with _run(df, c, resolve_table=lambda t: None) as res:
        r = _result(res, "silver.things.company.referential")
        assert not r.passed and r.observed_value == "table silver.companies is not available"
        assert res.rows_quarantined == 0


def test_quarantined_rows_match_the_quarantine_table_schema(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, ("d", "nope", 1.0)])
    with _run(df, _contract()) as res:
        actual = res.quarantined.schema
        expected = quarantine_schema(SCHEMA)
        assert actual.names == expected.names
        assert all(same_type(a.dataType, e.dataType) for a, e in zip(actual, expected, strict=True))
        assert isinstance(actual["_rule_ids"].dataType, ArrayType)


def test_metrics_summarise_the_split_for_the_run_ledger(spark: SparkSession) -> None:
    df = _df(spark, [*GOOD, ("d", "nope", -1.0)])
    with _run(df, _contract(amount_action="warn")) as res:
        assert res.metrics() == {
            "silver.things.rows_checked": 4,
            "silver.things.rows_published": 3,
            "silver.things.rows_dropped": 0,
            "silver.things.rows_quarantined": 1,
            "silver.things.rules_not_passed": [
                "silver.things.amount.range",
                "silver.things.email.format",
            ],
        }


def test_reference_time_must_be_timezone_aware(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        enforce(_df(spark, GOOD), _contract(), run_id="r", reference_time=dt.datetime(2026, 1, 1))
