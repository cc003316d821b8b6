"""Great Expectations Data Docs (static HTML) for a set of rule results.

Built from :class:`~crm_lakehouse.contracts.results.RuleResult` rows, typically those of the
latest run read back from ``ops.dq_results``, so the docs need no access to the data and can
never show more than the results hold (which is PII-free). Each ``(run, table)`` becomes one GX
validation result in an ephemeral context; the only files written are the site's, under the
folder given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from itertools import groupby
from pathlib import Path
from typing import Any

from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from crm_lakehouse.contracts.gx_suite import ephemeral_context, expectation_for, suite_name
from crm_lakehouse.contracts.model import Contract
from crm_lakehouse.contracts.results import RuleResult

SITE_NAME = "lakehouse"


def build_data_docs(
    results: Iterable[RuleResult],
    out_dir: Path | str,
    *,
    contracts: Mapping[str, Contract] | None = None,
) -> Path:
    """Write a Data Docs site for ``results`` into ``out_dir``; return its ``index.html``.

    With ``contracts`` each result is shown against the expectation its rule compiles to
    (column, bounds, value set); rules with no GX equivalent (referential checks, schema drift),
    or results whose rule is no longer in a contract, are shown as custom checks with their
    threshold. The folder is created if needed; files of an earlier site are overwritten.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    context = ephemeral_context()
    ordered = sorted(results, key=lambda r: (r.run_id, r.table, r.checked_at, r.rule_id))
    for (run_id, table), group in groupby(ordered, key=lambda r: (r.run_id, r.table)):
        rows = list(group)
        contract = (contracts or {}).get(table)
        validation = _validation(table, run_id, rows, contract)
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(name=suite_name(table)),
            RunIdentifier(run_name=run_id, run_time=min(r.checked_at for r in rows)),
            suite_name(table),
        )
        context.validation_results_store.set(key, validation)
    site: Any = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(out_dir),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "show_how_to_buttons": False,
    }
    context.add_data_docs_site(SITE_NAME, site)
    context.build_data_docs(site_names=[SITE_NAME])
    return out_dir / "index.html"


def _validation(
    table: str, run_id: str, rows: list[RuleResult], contract: Contract | None
) -> ExpectationSuiteValidationResult:
    results = [
        ExpectationValidationResult(
            success=r.passed,
            expectation_config=_configuration(r, contract),
            result=_result_dict(r),
        )
        for r in rows
    ]
    passed = sum(1 for r in rows if r.passed)
    run_time = min(r.checked_at for r in rows)
    return ExpectationSuiteValidationResult(
        success=all(r.passed or r.action != "fail" for r in rows),
        results=results,
        suite_name=suite_name(table),
        statistics={
            "evaluated_expectations": len(rows),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(rows) - passed,
            "success_percent": 100.0 * passed / len(rows) if rows else 100.0,
        },
        meta={
            "run_id": RunIdentifier(run_name=run_id, run_time=run_time),
            "batch_spec": {"data_asset_name": table},
            "validation_time": run_time.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ"),
        },
    )


def _configuration(result: RuleResult, contract: Contract | None) -> ExpectationConfiguration:
    """The expectation shown for a result, described by its rule id, action and rule text."""
    meta = {"rule_id": result.rule_id, "action": result.action, "threshold": result.threshold}
    rule = None
    if contract is not None:
        try:
            rule = contract.rule(result.rule_id)
        except KeyError:
            rule = None
    summary = rule.summary() if rule is not None else result.threshold
    description = f"{result.rule_id} [{result.action}]: {summary}"
    if rule is not None:
        expectation = expectation_for(rule, contract, reference_time=result.checked_at)  # type: ignore[arg-type]
        if expectation is not None:
            config = expectation.configuration
            config.meta = {**(config.meta or {}), **meta}
            config.description = description
            return config
    return ExpectationConfiguration(
        type="unexpected_rows_expectation",
        kwargs={"unexpected_rows_query": f"SELECT * FROM {{batch}} -- {result.rule_id}"},
        description=description,
        meta=meta,
    )


def _result_dict(result: RuleResult) -> dict[str, Any]:
    out: dict[str, Any] = {"observed_value": result.observed_value}
    if result.element_count is not None:
        out["element_count"] = result.element_count
    if result.unexpected_count is not None:
        out["unexpected_count"] = result.unexpected_count
        out["unexpected_percent"] = result.unexpected_percent or 0.0
        out["partial_unexpected_list"] = list(result.details.get("partial_unexpected_list", []))
    return out
