"""Contracts compiled into Great Expectations suites, run in an ephemeral context.

Nothing is written to disk: the context lives in memory (no GX project tree, no stores on disk,
analytics and progress bars off). Validation uses one such context and Spark data source per
Spark session, reused for every table: building them per table cost more than the checks of a
small Gold table. During enforcement the suite holds the
table-level rules (uniqueness, row counts, freshness), which cannot split rows; row rules are
counted by :mod:`~crm_lakehouse.contracts.predicates` in one Spark pass, and can be added to the
suite (``include_row_rules``) for documentation or to cross-check the predicates.

Results come back as :class:`~crm_lakehouse.contracts.results.RuleResult` and are scrubbed of
PII: for any rule touching a PII column, GX's ``partial_unexpected_list`` and friends and the
observed value are removed from the result before anything else sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Any

import great_expectations as gx
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations import Expectation
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, TimestampNTZType

from crm_lakehouse.contracts.model import Contract, Rule, RuleKind
from crm_lakehouse.contracts.predicates import col
from crm_lakehouse.contracts.results import ENGINE_GX, RuleResult

log = logging.getLogger(__name__)

SAMPLE_SIZE = 20
"""At most this many unexpected values are kept (for non-PII rules only)."""

VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "unexpected_rows",
    "details",
    "observed_value",
)
"""GX result keys that can carry data values; dropped for rules touching PII."""


def ephemeral_context() -> AbstractDataContext:
    """An in-memory GX context: nothing on disk, no analytics, no progress bars."""
    config = DataContextConfig(
        analytics_enabled=False,
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


@lru_cache(maxsize=1)
def _validation_context() -> AbstractDataContext:
    """The process's validation context, built on first use (it also becomes GX's current
    context, which suites need in order to gain expectations)."""
    return ephemeral_context()


@lru_cache(maxsize=1)
def _validation_source(spark: SparkSession) -> Any:
    """The Spark data source for ``spark`` in the validation context, added on first use."""
    context = _validation_context()
    name = f"lakehouse-{id(spark):x}"
    if name in context.data_sources.all():
        context.data_sources.delete(name)
    return context.data_sources.add_spark(name=name, persist=False)


def _whole_frame_batch(df: DataFrame, asset_name: str) -> Any:
    """A batch of all of ``df`` under the asset ``asset_name`` of the validation source."""
    source = _validation_source(df.sparkSession)
    if asset_name in source.get_asset_names():
        asset = source.get_asset(asset_name)
        definition = asset.get_batch_definition("whole")
    else:
        asset = source.add_dataframe_asset(name=asset_name)
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": df})


def suite_name(table: str) -> str:
    """GX splits suite names on dots in Data Docs paths, so ``silver.x`` becomes ``silver-x``."""
    return table.replace(".", "-")


def expectation_for(
    rule: Rule, contract: Contract, *, reference_time: dt.datetime
) -> Expectation | None:
    """The GX expectation equivalent to ``rule``, or None (referential rules need a join).

    ``meta`` carries the rule id, action and threshold, which is how results are mapped back
    to rules and what Data Docs shows next to each expectation.
    """
    meta = {"rule_id": rule.id, "action": rule.action.value, "threshold": rule.threshold()}
    common: dict[str, Any] = {"meta": meta}
    if rule.description:
        common["description"] = rule.description
    column = rule.column
    per_row: dict[str, Any] = {**common, "column": column, "mostly": rule.mostly}
    E = gx.expectations
    kind = rule.kind
    if kind is RuleKind.NOT_NULL:
        return E.ExpectColumnValuesToNotBeNull(**per_row)
    if kind is RuleKind.ACCEPTED_VALUES or (kind is RuleKind.FORMAT and rule.value_set()):
        return E.ExpectColumnValuesToBeInSet(**per_row, value_set=list(rule.value_set()))
    if kind is RuleKind.RANGE:
        assert column is not None
        limits: dict[str, Any] = {
            "min_value": _gx_bound(rule.minimum, contract, column),
            "max_value": _gx_bound(rule.maximum, contract, column),
        }
        return E.ExpectColumnValuesToBeBetween(**per_row, **limits)
    if kind in (RuleKind.REGEX, RuleKind.FORMAT):
        return E.ExpectColumnValuesToMatchRegex(**per_row, regex=str(rule.regex()))
    if kind is RuleKind.UNIQUE:
        if column is not None:
            return E.ExpectColumnValuesToBeUnique(**per_row)
        # A compound key is checked as one derived column (see key_columns): GX's compound
        # expectation costs a window and two more Spark jobs, about twice the single-column one.
        return E.ExpectColumnValuesToBeUnique(
            **common, column=key_column_name(rule), mostly=rule.mostly
        )
    if kind is RuleKind.ROW_COUNT:
        bounds: dict[str, Any] = {"min_value": rule.minimum, "max_value": rule.maximum}
        return E.ExpectTableRowCountToBeBetween(**common, **bounds)
    if kind is RuleKind.FRESHNESS:
        assert column is not None and rule.max_age is not None
        oldest = _as_spark_python_value(reference_time - rule.max_age, contract, column)
        return E.ExpectColumnMaxToBeBetween(**common, column=column, min_value=oldest)
    if kind is RuleKind.CUSTOM:
        query = (
            "SELECT * FROM {batch} WHERE NOT coalesce(CAST(("
            + str(rule.expression)
            + ") AS BOOLEAN), true)"
        )
        return E.UnexpectedRowsExpectation(**common, unexpected_rows_query=query)
    return None  # referential: judged by a join in predicates.attach_references


def key_column_name(rule: Rule) -> str:
    """The derived column a compound uniqueness rule is checked on: ``system+key``."""
    return "+".join(rule.columns)


def key_columns(contract: Contract) -> dict[str, Column]:
    """The derived key columns of the contract's compound uniqueness rules.

    A row's key is the struct of its key values, or null when every value is missing: GX skips
    null values, which is what its compound expectation does by default with such rows
    (``ignore_row_if="all_values_are_missing"``), so both give the same counts.
    """
    out: dict[str, Column] = {}
    for rule in contract.rules:
        if rule.kind is RuleKind.UNIQUE and rule.column is None and len(rule.columns) > 1:
            values = [col(c) for c in rule.columns]
            present = reduce(lambda a, b: a | b, [v.isNotNull() for v in values])
            out[key_column_name(rule)] = F.when(present, F.struct(*values))
    return out


def build_suite(
    contract: Contract,
    *,
    reference_time: dt.datetime,
    include_row_rules: bool = False,
    context: AbstractDataContext | None = None,
) -> gx.ExpectationSuite:
    """The contract's suite: table-level rules, plus row rules when ``include_row_rules``.

    GX only lets a suite gain expectations while a data context is current (it keeps the
    current context in a process-wide registry), so the validation context is opened when none
    is given.
    """
    if context is None:
        _validation_context()
    suite = gx.ExpectationSuite(name=suite_name(contract.table))
    for rule in contract.rules:
        if rule.row_level and not include_row_rules:
            continue
        expectation = expectation_for(rule, contract, reference_time=reference_time)
        if expectation is not None:
            suite.add_expectation(expectation)
    return suite


@dataclass(frozen=True)
class SuiteOutcome:
    """The PII-scrubbed GX validation (as JSON) and the rule results drawn from it."""

    validation: Mapping[str, Any]
    results: tuple[RuleResult, ...]


def run_suite(
    df: DataFrame,
    contract: Contract,
    suite: gx.ExpectationSuite,
    *,
    run_id: str,
    reference_time: dt.datetime,
    checked_at: dt.datetime,
    rows: int | None = None,
) -> SuiteOutcome:
    """Validate ``df`` (of ``rows`` rows, when the caller knows) against ``suite`` in the
    session's validation context.

    The data source does not persist the DataFrame (``persist=False``): the caller caches what
    it validates, and a second cached copy would only cost memory.

    GX computes aggregate metrics of all expectations in one Spark job, but a uniqueness
    expectation is a window condition that costs two more jobs of its own, which made it most
    of the cost of validating a Gold table. So the validation runs in passes:

    1. The suite for counts only (``BASIC``, no sample), with each uniqueness expectation
       screened by an aggregate one: ``ExpectColumnProportionOfUniqueValuesToBeBetween`` with
       a minimum of 1, which holds exactly when no non-null value occurs twice, so a passing
       screen means zero unexpected rows.
    2. Only what did not pass runs again: a failed screen as the real
       ``ExpectColumnValuesToBeUnique`` (its exact count, and ``mostly``), and every failed
       rule touching no PII with a sample of up to :data:`SAMPLE_SIZE` unexpected values for
       the results and Data Docs.
    """
    keys = key_columns(contract)
    if keys:
        df = df.withColumns(keys)
    batch = _whole_frame_batch(df, contract.table)
    exact: dict[str, Expectation] = {}
    first = gx.ExpectationSuite(name=suite.name)
    for expectation in suite.expectations:
        screen = _uniqueness_screen(expectation)
        if screen is not None:
            exact[str((expectation.meta or {})["rule_id"])] = expectation
        first.add_expectation(screen or expectation)
    validation = batch.validate(
        first, result_format={"result_format": "BASIC", "partial_unexpected_count": 0}
    )
    _rerun_failures(batch, validation, contract, exact)
    results = tuple(
        _rule_result(
            r,
            contract,
            run_id=run_id,
            reference_time=reference_time,
            checked_at=checked_at,
            rows=rows,
        )
        for r in validation.results
    )
    return SuiteOutcome(validation=scrub_validation(validation, contract), results=results)


_SCREEN = "expect_column_proportion_of_unique_values_to_be_between"


def _uniqueness_screen(expectation: Expectation) -> Expectation | None:
    """The aggregate screen standing in for a uniqueness expectation in the first pass."""
    if not isinstance(expectation, gx.expectations.ExpectColumnValuesToBeUnique):
        return None
    return gx.expectations.ExpectColumnProportionOfUniqueValuesToBeBetween(
        column=expectation.column, min_value=1.0, meta=dict(expectation.meta or {})
    )


def _rule_id(evr: ExpectationValidationResult) -> str | None:
    config = evr.expectation_config
    rule_id = ((config.meta if config is not None else None) or {}).get("rule_id")
    return None if rule_id is None else str(rule_id)


def _rerun_failures(
    batch: Any,
    validation: ExpectationSuiteValidationResult,
    contract: Contract,
    exact: Mapping[str, Expectation],
) -> None:
    """Run the failed expectations again and put their results in place of the first pass's
    (in ``validation``): failed screens as the exact uniqueness expectation, and failed rules
    touching no PII with a sample. Rules touching PII get no sample."""
    sampled: dict[str, int] = {}
    counted: dict[str, int] = {}
    for i, evr in enumerate(validation.results):
        rule_id = _rule_id(evr)
        if evr.success or rule_id is None:
            continue
        pii = _touches_pii(contract, rule_id)
        if not pii and (rule_id in exact or "unexpected_count" in (evr.result or {})):
            sampled[rule_id] = i
        elif rule_id in exact:
            counted[rule_id] = i
    for redo, result_format in (
        (sampled, {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}),
        (counted, {"result_format": "BASIC", "partial_unexpected_count": 0}),
    ):
        if not redo:
            continue
        retry = gx.ExpectationSuite(name=suite_name(contract.table) + "-again")
        for rule_id, i in redo.items():
            config = validation.results[i].expectation_config
            assert config is not None
            retry.add_expectation(exact.get(rule_id) or config.to_domain_obj())
        for evr in batch.validate(retry, result_format=result_format).results:
            rule_id = _rule_id(evr)
            if rule_id in redo:
                validation.results[redo[rule_id]] = evr


def scrub_validation(
    validation: ExpectationSuiteValidationResult, contract: Contract
) -> dict[str, Any]:
    """The validation as JSON with every value-bearing key removed for rules touching PII."""
    data: dict[str, Any] = validation.to_json_dict()
    for result in data.get("results", []):
        rule_id = (result.get("expectation_config") or {}).get("meta", {}).get("rule_id")
        if rule_id is None or _touches_pii(contract, rule_id):
            scrub_result(result.get("result") or {})
            result["exception_info"] = _scrubbed_exception(result.get("exception_info"))
    return data


def scrub_result(result: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Remove every key of a GX ``result`` dict that can carry data values (in place)."""
    for key in VALUE_KEYS:
        result.pop(key, None)
    return result


def _touches_pii(contract: Contract, rule_id: str) -> bool:
    try:
        return contract.touches_pii(contract.rule(rule_id))
    except KeyError:
        return True


def _scrubbed_exception(info: Any) -> Any:
    if isinstance(info, dict) and info.get("raised_exception"):
        return {"raised_exception": True, "exception_message": "(hidden: rule touches PII)"}
    return info


def _rule_result(
    evr: ExpectationValidationResult,
    contract: Contract,
    *,
    run_id: str,
    reference_time: dt.datetime,
    checked_at: dt.datetime,
    rows: int | None = None,
) -> RuleResult:
    config = evr.expectation_config
    meta = (config.meta if config is not None else None) or {}
    rule = contract.rule(str(meta["rule_id"]))
    pii = contract.touches_pii(rule)
    raw: dict[str, Any] = dict(evr.result or {})
    details: dict[str, Any] = {}
    exception = evr.exception_info or {}
    if isinstance(exception, dict) and exception.get("raised_exception"):
        message = str(exception.get("exception_message") or "error")
        details["error"] = "(hidden: rule touches PII)" if pii else message.splitlines()[0][:300]
    element_count = raw.get("element_count")
    unexpected = raw.get("unexpected_count")
    if config is not None and config.type == _SCREEN and evr.success:
        # Every non-null value occurs once, so no row breaks the uniqueness rule.
        element_count, unexpected = rows, 0
        details["checked_by"] = _SCREEN
    if rule.kind is RuleKind.CUSTOM and unexpected is None:
        # GX's unexpected-rows check reports the number of rows its query returned.
        observed_rows = raw.get("observed_value")
        unexpected = observed_rows if isinstance(observed_rows, int) else None
    percent: float | None = None
    if unexpected is not None and element_count:
        percent = 100.0 * unexpected / element_count
    elif unexpected is not None:
        percent = 0.0
    observed = _observed(rule, raw, pii, reference_time, unexpected, element_count, percent)
    if details.get("error"):
        observed = "error: " + str(details["error"])
    if not pii:
        sample = raw.get("partial_unexpected_list")
        if sample:
            details["partial_unexpected_list"] = [_jsonable(v) for v in sample[:SAMPLE_SIZE]]
    return RuleResult.of_rule(
        contract,
        rule,
        run_id=run_id,
        checked_at=checked_at,
        engine=ENGINE_GX,
        passed=bool(evr.success),
        observed_value=observed,
        unexpected_count=int(unexpected) if unexpected is not None else None,
        unexpected_percent=percent,
        element_count=int(element_count) if element_count is not None else None,
        details=details,
    )


def _observed(
    rule: Rule,
    raw: Mapping[str, Any],
    pii: bool,
    reference_time: dt.datetime,
    unexpected: int | None,
    element_count: int | None,
    percent: float | None,
) -> str | None:
    if rule.kind is RuleKind.ROW_COUNT:
        value = raw.get("observed_value")
        return None if value is None else f"{value} rows"
    if rule.kind is RuleKind.FRESHNESS:
        return describe_freshness(as_utc(raw.get("observed_value")), reference_time, pii)
    if unexpected is not None:
        return describe_count(unexpected, element_count, percent)
    return None


def describe_freshness(newest: dt.datetime | None, reference_time: dt.datetime, pii: bool) -> str:
    """``"newest 2026-11-20T01:00:00+00:00 (11.0h old)"``; the age only for PII columns."""
    if newest is None:
        return "no values"
    age_h = (reference_time - newest).total_seconds() / 3600
    return (
        f"newest value {age_h:.1f}h old"
        if pii
        else f"newest {newest.isoformat()} ({age_h:.1f}h old)"
    )


def describe_count(unexpected: int, element_count: int | None, percent: float | None) -> str:
    """``"3 of 120 rows (2.5%)"``: how results state a count, whatever the engine."""
    if element_count is None:
        return f"{unexpected} rows"
    return f"{unexpected} of {element_count} rows ({percent or 0.0:.4g}%)"


def _as_spark_python_value(moment: dt.datetime, contract: Contract, column: str) -> Any:
    """A bound in the form Spark hands values of ``column`` to Python.

    Spark returns ``timestamp`` values as naive datetimes in the driver's local time zone and
    ``timestamp_ntz`` values as naive wall-clock (UTC here) datetimes; GX compares the column's
    max with the bound in Python, so the bound must be in the same form.
    """
    prop = contract.find(column)
    data_type = prop.data_type if prop is not None else None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if isinstance(data_type, DateType):
        return moment.astimezone(dt.UTC).date()
    if isinstance(data_type, TimestampNTZType):
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.astimezone().replace(tzinfo=None)


def _gx_bound(value: float | int | str | None, contract: Contract, column: str) -> Any:
    """A range bound as GX compares it: ISO strings become dates or datetimes."""
    if not isinstance(value, str):
        return value
    moment = dt.datetime.fromisoformat(value)
    prop = contract.find(column)
    if prop is not None and isinstance(prop.data_type, DateType):
        return moment.date()
    return _as_spark_python_value(moment, contract, column)


def as_utc(value: Any) -> dt.datetime | None:
    """A value Spark handed to Python (naive local datetime, date, ISO text) as UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return as_utc(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def rule_results_by_id(results: Iterable[RuleResult]) -> dict[str, RuleResult]:
    return {r.rule_id: r for r in results}


def expectation_types(suite: gx.ExpectationSuite) -> Sequence[str]:
    """The expectation types in a suite (for tests and docs)."""
    return [e.expectation_type for e in suite.expectations]
