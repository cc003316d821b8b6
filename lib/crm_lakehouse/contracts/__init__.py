"""Data contracts: ODCS-shaped YAML per table, compiled to Spark predicates and GX suites.

Typical use in a pipeline step (see ``contracts/README.md`` for the YAML)::

    contracts = load_contracts("contracts")            # once, before Spark work starts
    try:
        result = enforce(batch, contracts["silver.opportunities"], run_id=ctx.run_id,
                         reference_time=end_of_day, resolve_table=read_current_table)
    except ContractFailed as failed:                   # nothing may be published
        record_results(port, lake, failed.results)
        raise
    with result:                                       # unpersists the cached rows at the end
        record_results(port, lake, result.results)
        publish_quarantine(port, lake, result, txn=quarantine_txn)
        port.merge(location, result.published, keys=KEYS, txn=txn)
"""

from __future__ import annotations

from crm_lakehouse.contracts.docs import build_data_docs
from crm_lakehouse.contracts.drift import (
    DriftFinding,
    detect_drift,
    detect_file_drift,
    drift_results,
    raise_for_drift,
    rescued_columns,
)
from crm_lakehouse.contracts.enforcement import (
    EnforcementResult,
    TableRuleEngine,
    enforce,
    publish_quarantine,
)
from crm_lakehouse.contracts.formats import FORMATS, NamedFormat
from crm_lakehouse.contracts.gx_suite import build_suite, expectation_for, run_suite
from crm_lakehouse.contracts.linter import lint
from crm_lakehouse.contracts.model import (
    Action,
    Classification,
    Contract,
    DriftKind,
    DriftPolicy,
    Property,
    Rule,
    RuleKind,
)
from crm_lakehouse.contracts.parse import (
    load_contract,
    load_contracts,
    parse_contract,
    quarantine_contract,
)
from crm_lakehouse.contracts.predicates import RowCheck, attach_references, row_checks, violation
from crm_lakehouse.contracts.quarantine import (
    QUARANTINE_COLUMNS,
    QUARANTINE_SUFFIX,
    quarantine_schema,
    released_rows,
)
from crm_lakehouse.contracts.results import (
    DQ_RESULTS,
    DQ_RESULTS_SCHEMA,
    RuleResult,
    read_results,
    record_results,
)

__all__ = [
    "DQ_RESULTS",
    "DQ_RESULTS_SCHEMA",
    "FORMATS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_SUFFIX",
    "Action",
    "Classification",
    "Contract",
    "DriftFinding",
    "DriftKind",
    "DriftPolicy",
    "EnforcementResult",
    "NamedFormat",
    "Property",
    "RowCheck",
    "Rule",
    "RuleKind",
    "RuleResult",
    "TableRuleEngine",
    "attach_references",
    "build_data_docs",
    "build_suite",
    "detect_drift",
    "detect_file_drift",
    "drift_results",
    "enforce",
    "expectation_for",
    "lint",
    "load_contract",
    "load_contracts",
    "parse_contract",
    "publish_quarantine",
    "quarantine_contract",
    "quarantine_schema",
    "raise_for_drift",
    "read_results",
    "record_results",
    "released_rows",
    "rescued_columns",
    "row_checks",
    "run_suite",
    "violation",
]
