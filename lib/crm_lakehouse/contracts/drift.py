"""Schema drift: what a delivery or a DataFrame changed against the table's contract.

Two entry points, for the two places drift shows up:

* :func:`detect_file_drift` for a delivered file, from the column lists Bronze ingestion records
  per file in ``ops.ingested_files`` (``missing_columns``, ``extra_columns``); run it before
  Silver reads the day's Bronze rows;
* :func:`rescued_columns` for JSONL deliveries, whose undeclared keys Bronze rescues;
* :func:`detect_drift` for a schema (a DataFrame's, a table's) or a list of delivered column
  names, which can also find retyped columns.

Each finding carries the action the contract's ``schemaDrift`` policy assigns to its kind.
:func:`drift_results` turns findings into ``ops.dq_results`` rows and :func:`raise_for_drift`
stops the run for ``fail`` findings. Columns whose name starts with ``_`` are pipeline metadata
(``_source_file``, ``_row_hash``...), never delivered, and are ignored unless asked for.

Renames are a heuristic: a removed and an added column whose names are alike (same letters
ignoring case and separators, or a similarity of at least :data:`RENAME_SIMILARITY`) and whose
types agree (when known) are reported as one rename instead of a removal and an addition.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StructType

from crm_lakehouse.contracts.model import Action, Contract, DriftKind
from crm_lakehouse.contracts.results import ENGINE_SCHEMA, RuleResult
from crm_lakehouse.contracts.spark_types import canonical
from crm_lakehouse.errors import SchemaDriftError

RENAME_SIMILARITY = 0.8


@dataclass(frozen=True)
class DriftFinding:
    """One difference between the delivered schema and the contract.

    ``column`` is the contract's column (removed, renamed, retyped) or the delivered one
    (added); ``new_name`` is the delivered name of a renamed column.
    """

    table: str
    kind: DriftKind
    column: str
    action: Action
    detail: str
    new_name: str | None = None
    expected_type: str | None = None
    actual_type: str | None = None
    source: str | None = None

    @property
    def rule_id(self) -> str:
        """``<table>.<column>.column_<kind>``, stable across runs for the same change."""
        return f"{self.table}.{self.column}.column_{self.kind.value}"


def detect_drift(
    contract: Contract,
    delivered: StructType | Sequence[str],
    *,
    source: str | None = None,
    include_metadata: bool = False,
) -> list[DriftFinding]:
    """Compare a delivered schema (or column names) with the contract's columns.

    Struct columns are compared field by field (``properties.email``). With a list of names
    there are no types, so nothing can be retyped.
    """
    expected = _contract_columns(contract, include_metadata)
    if isinstance(delivered, StructType):
        actual: dict[str, str | None] = dict(_flatten(delivered))
    else:
        actual = dict.fromkeys(delivered)
    if not include_metadata:
        actual = {k: v for k, v in actual.items() if not k.startswith("_")}
    removed = [c for c in expected if c not in actual and not _has_child(c, actual)]
    added = [c for c in actual if c not in expected and not _has_child(c, expected)]
    findings = _pair_renames(contract, removed, added, expected, actual, source)
    for column, expected_type in expected.items():
        actual_type = actual.get(column)
        if expected_type and actual_type and actual_type != expected_type:
            findings.append(
                _finding(
                    contract,
                    DriftKind.RETYPED,
                    column,
                    f"column {column!r} is {actual_type}, the contract says {expected_type}",
                    source,
                    expected_type=expected_type,
                    actual_type=actual_type,
                )
            )
    return findings


def detect_file_drift(
    contract: Contract,
    *,
    missing_columns: Iterable[str],
    extra_columns: Iterable[str],
    source: str | None = None,
) -> list[DriftFinding]:
    """Drift of one delivered file, from the file ledger's missing and extra column lists."""
    expected = _contract_columns(contract, include_metadata=False)
    removed = list(missing_columns)
    added = list(extra_columns)
    actual: dict[str, str | None] = dict.fromkeys(added)
    return _pair_renames(contract, removed, added, expected, actual, source)


def rescued_columns(bronze: DataFrame, column: str = "_rescued") -> list[str]:
    """Names of the undeclared columns rescued into Bronze's ``_rescued`` JSON, sorted.

    JSONL deliveries have no header, so the file ledger cannot list their extra columns; the
    rescued keys (``properties.<key>`` for HubSpot's nested object) are the delivered ones the
    registry does not declare. Pass them as ``extra_columns`` to :func:`detect_file_drift`.
    One Spark job over the given rows (filter them to the delivery first).
    """
    keys = bronze.select(
        F.explode(F.map_keys(F.from_json(F.col(column), "map<string,string>"))).alias("key")
    ).distinct()
    return sorted(r["key"] for r in keys.collect())


def drift_results(
    findings: Iterable[DriftFinding], *, run_id: str, checked_at: dt.datetime
) -> list[RuleResult]:
    """One ``ops.dq_results`` row per finding (column names only, never values)."""
    return [
        RuleResult(
            run_id=run_id,
            table=f.table,
            rule_id=f.rule_id,
            rule_kind=f"schema_{f.kind.value}",
            columns=tuple(c for c in (f.column, f.new_name) if c),
            action=f.action.value,
            passed=False,
            observed_value=f.detail + (f" (in {f.source})" if f.source else ""),
            unexpected_count=None,
            unexpected_percent=None,
            element_count=None,
            threshold="the delivered columns match the contract",
            engine=ENGINE_SCHEMA,
            checked_at=checked_at,
        )
        for f in findings
    ]


def raise_for_drift(findings: Iterable[DriftFinding]) -> None:
    """Raise :class:`SchemaDriftError` listing every finding whose action is ``fail``."""
    failing = [f for f in findings if f.action is Action.FAIL]
    if not failing:
        return
    tables = sorted({f.table for f in failing})
    lines = [
        f"{f.rule_id}: {f.detail}" + (f" (in {f.source})" if f.source else "") for f in failing
    ]
    raise SchemaDriftError(
        f"schema drift in {', '.join(tables)} that the contract does not allow:\n  - "
        + "\n  - ".join(lines)
    )


def _contract_columns(contract: Contract, include_metadata: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for prop in contract.walk():
        if not include_metadata and prop.path.split(".")[0].startswith("_"):
            continue
        if prop.properties:
            continue  # a struct is compared through its fields
        out[prop.path] = canonical(prop.data_type)
    return out


def _flatten(schema: StructType, prefix: str = "") -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for field in schema.fields:
        path = prefix + field.name
        data_type: DataType = field.dataType
        if isinstance(data_type, StructType):
            out.extend(_flatten(data_type, path + "."))
        else:
            out.append((path, canonical(data_type)))
    return out


def _has_child(column: str, columns: Iterable[str]) -> bool:
    """True when ``column`` is a struct whose fields are listed (compared one by one)."""
    return any(c.startswith(column + ".") for c in columns)


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _similarity(a: str, b: str) -> float:
    na, nb = _normalised(a), _normalised(b)
    if na == nb:
        return 1.0
    return difflib.SequenceMatcher(None, na, nb).ratio()


def _pair_renames(
    contract: Contract,
    removed: list[str],
    added: list[str],
    expected: dict[str, str | None],
    actual: dict[str, str | None],
    source: str | None,
) -> list[DriftFinding]:
    candidates = sorted(
        (
            (_similarity(old, new), old, new)
            for old in removed
            for new in added
            if (
                expected.get(old) is None
                or actual.get(new) is None
                or expected.get(old) == actual.get(new)
            )
        ),
        reverse=True,
    )
    findings: list[DriftFinding] = []
    paired_old: set[str] = set()
    paired_new: set[str] = set()
    for score, old, new in candidates:
        if score < RENAME_SIMILARITY or old in paired_old or new in paired_new:
            continue
        paired_old.add(old)
        paired_new.add(new)
        findings.append(
            _finding(
                contract,
                DriftKind.RENAMED,
                old,
                f"column {old!r} seems renamed to {new!r} (name similarity {score:.2f})",
                source,
                new_name=new,
            )
        )
    for old in removed:
        if old not in paired_old:
            findings.append(
                _finding(
                    contract,
                    DriftKind.REMOVED,
                    old,
                    f"column {old!r} was not delivered",
                    source,
                    expected_type=expected.get(old),
                )
            )
    for new in added:
        if new not in paired_new:
            findings.append(
                _finding(
                    contract,
                    DriftKind.ADDED,
                    new,
                    f"column {new!r} is not in the contract",
                    source,
                    actual_type=actual.get(new),
                )
            )
    return findings


def _finding(
    contract: Contract,
    kind: DriftKind,
    column: str,
    detail: str,
    source: str | None,
    **extra: str | None,
) -> DriftFinding:
    return DriftFinding(
        table=contract.table,
        kind=kind,
        column=column,
        action=contract.drift.action(kind),
        detail=detail,
        source=source,
        **extra,
    )
