"""Contract YAML (ODCS v3.0.x shape) to frozen :class:`~crm_lakehouse.contracts.model.Contract`.

The files follow the Open Data Contract Standard v3.0.x so that ODCS tools (``datacontract
lint``) accept them. Our extensions sit where ODCS allows custom content:

* each quality rule's ``action`` (and optional ``mostly``) are entries of the rule's
  ``customProperties`` list (``- {property: action, value: quarantine}``);
* rule parameters are in the rule's ``arguments`` object (``validValues``, ``pattern``,
  ``format``, ``min``/``max``, ``references``, ``properties``);
* row counts and freshness use ODCS's comparison operators (``mustBeBetween``,
  ``mustBeLessOrEqualTo`` with ``unit: hours``);
* custom row predicates are ODCS ``type: custom`` rules with ``engine: spark-sql`` and the
  predicate valid rows satisfy as ``implementation``;
* the schema-drift policy is the contract-level custom property ``schemaDrift``.

Validation is strict and complete: unknown keys, wrong types, values outside a closed vocabulary,
rules on unknown columns, inconsistent keys and unknown referential targets are all collected and
raised together in one :class:`~crm_lakehouse.errors.ContractDefinitionError`, each problem
prefixed with the file and the key path (``schema[opportunities].properties[amount]
.quality[0].arguments.min``), before any Spark work starts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegralType,
    MapType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from crm_lakehouse.config import load_yaml
from crm_lakehouse.contracts.formats import NamedFormat
from crm_lakehouse.contracts.model import (
    LIBRARY_RULES,
    TABLE_LEVEL_ACTIONS,
    Action,
    Classification,
    Contract,
    ContractDescription,
    DriftKind,
    DriftPolicy,
    Property,
    Rule,
    RuleKind,
)
from crm_lakehouse.contracts.quarantine import (
    QUARANTINE_PROPERTIES,
    QUARANTINE_SUFFIX,
    original_name,
)
from crm_lakehouse.contracts.spark_types import TypeStringError, parse_type
from crm_lakehouse.errors import ContractDefinitionError
from crm_lakehouse.lake import Tier

SUPPORTED_API_VERSIONS = ("v3.0.0", "v3.0.1", "v3.0.2")
STATUSES = ("proposed", "draft", "active", "deprecated", "retired")
LOGICAL_TYPES = ("string", "date", "number", "integer", "object", "array", "boolean")
CUSTOM_ENGINE = "spark-sql"

_TOP_KEYS = frozenset(
    {
        "apiVersion",
        "kind",
        "id",
        "name",
        "version",
        "status",
        "domain",
        "dataProduct",
        "tenant",
        "tags",
        "description",
        "schema",
        "customProperties",
        "contractCreatedTs",
    }
)
_DESCRIPTION_KEYS = frozenset({"purpose", "usage", "limitations"})
_OBJECT_KEYS = frozenset(
    {
        "name",
        "physicalName",
        "physicalType",
        "logicalType",
        "description",
        "businessName",
        "dataGranularityDescription",
        "tags",
        "properties",
        "quality",
    }
)
_PROPERTY_KEYS = frozenset(
    {
        "name",
        "logicalType",
        "physicalType",
        "required",
        "unique",
        "primaryKey",
        "primaryKeyPosition",
        "classification",
        "description",
        "businessName",
        "examples",
        "tags",
        "properties",
        "items",
        "quality",
        "criticalDataElement",
        "partitioned",
        "partitionKeyPosition",
        "transformLogic",
        "transformSourceObjects",
        "transformDescription",
    }
)
_ITEMS_KEYS = frozenset({"logicalType", "physicalType", "description"})
_OPERATORS = (
    "mustBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
)
_QUALITY_KEYS = frozenset(
    {
        "type",
        "rule",
        "id",
        "name",
        "description",
        "dimension",
        "severity",
        "businessImpact",
        "method",
        "tags",
        "unit",
        "arguments",
        "engine",
        "implementation",
        "customProperties",
        *_OPERATORS,
    }
)
_DIMENSIONS = (
    "accuracy",
    "completeness",
    "conformity",
    "consistency",
    "coverage",
    "timeliness",
    "uniqueness",
)
_RULE_ARGUMENTS: dict[RuleKind, frozenset[str]] = {
    RuleKind.NOT_NULL: frozenset(),
    RuleKind.UNIQUE: frozenset({"properties"}),
    RuleKind.ACCEPTED_VALUES: frozenset({"validValues"}),
    RuleKind.RANGE: frozenset({"min", "max"}),
    RuleKind.FORMAT: frozenset({"format"}),
    RuleKind.REGEX: frozenset({"pattern"}),
    RuleKind.REFERENTIAL: frozenset({"references"}),
    RuleKind.ROW_COUNT: frozenset(),
    RuleKind.FRESHNESS: frozenset(),
    RuleKind.CUSTOM: frozenset(),
}
_SCHEMA_LEVEL_KINDS = frozenset({RuleKind.UNIQUE, RuleKind.ROW_COUNT, RuleKind.CUSTOM})
_PROPERTY_LEVEL_KINDS = frozenset(k for k in RuleKind if k is not RuleKind.ROW_COUNT)
_AGE_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
_STABLE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_TABLE_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_REFERENCE = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$")


class _Problems:
    """Collects problems, each prefixed with the file (and the key path given)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )


# --------------------------------------------------------------------------- public API


def load_contract(path: Path | str) -> Contract:
    """Read and validate one contract file; raise :class:`ContractDefinitionError` on problems."""
    path = Path(path)
    problems = _Problems(str(path))
    contract = _parse_file(path, problems)
    if problems.items or contract is None:
        raise ContractDefinitionError(problems.items or [f"{path}: could not be read"])
    return contract


def parse_contract(data: Any, source: str = "<contract>") -> Contract:
    """Validate already-loaded YAML data (a mapping) into a :class:`Contract`.

    Raises :class:`ContractDefinitionError` listing every problem. Referential targets are
    only checked for form here; :func:`load_contracts` checks them against the other tables.
    """
    problems = _Problems(source)
    contract = _parse(data, problems)
    if problems.items or contract is None:
        raise ContractDefinitionError(problems.items or [f"{source}: not a contract"])
    return contract


def load_contracts(directory: Path | str, *, with_quarantine: bool = True) -> dict[str, Contract]:
    """Every ``<tier>/<table>.yaml`` under ``directory``, keyed by table name (``tier.table``).

    All files are validated and every problem of every file is reported together. Across files:
    each file must sit at ``<tier>/<table>.yaml`` for the table it declares, a table may be
    declared once, and every ``referential`` rule must name a declared table and column.
    With ``with_quarantine`` (the default) the result also holds the derived contract of each
    ``<tier>.<table>__quarantine`` table (see :func:`quarantine_contract`).
    """
    directory = Path(directory)
    problems: list[str] = []
    if not directory.is_dir():
        raise ContractDefinitionError(f"{directory}: contracts folder not found")
    files = sorted([*directory.glob("*/*.yaml"), *directory.glob("*/*.yml")])
    contracts: dict[str, Contract] = {}
    for path in files:
        file_problems = _Problems(str(path))
        contract = _parse_file(path, file_problems)
        problems.extend(file_problems.items)
        if contract is None:
            continue
        expected = f"{path.parent.name}.{path.stem}"
        if contract.table != expected:
            problems.append(
                f"{path}: declares table {contract.table!r} but lives at "
                f"{path.parent.name}/{path.name} (expected {contract.table.replace('.', '/')}.yaml)"
            )
        if contract.table in contracts:
            problems.append(
                f"{path}: table {contract.table!r} is already declared in "
                f"{contracts[contract.table].source}"
            )
            continue
        contracts[contract.table] = contract
    for contract in contracts.values():
        for rule in contract.rules:
            if rule.kind is not RuleKind.REFERENTIAL:
                continue
            target = contracts.get(rule.reference_table)
            if target is None:
                problems.append(
                    f"{rule.origin}.arguments.references: {rule.references!r} names table "
                    f"{rule.reference_table!r}, which has no contract (known: {sorted(contracts)})"
                )
            elif target.find(rule.reference_column) is None:
                problems.append(
                    f"{rule.origin}.arguments.references: table {rule.reference_table!r} has no "
                    f"column {rule.reference_column!r} (columns: {list(target.columns)})"
                )
    if problems:
        raise ContractDefinitionError(problems)
    if with_quarantine:
        for contract in list(contracts.values()):
            if contract.has_quarantine:
                derived = quarantine_contract(contract)
                contracts[derived.table] = derived
    return dict(sorted(contracts.items()))


def quarantine_contract(contract: Contract) -> Contract:
    """The contract of ``<tier>.<table>__quarantine``, derived from the table's own contract.

    Shape: ``_run_id``, ``_rule_ids``, ``_reasons``, ``_quarantined_at``, then the table's
    columns as they were (all nullable: held rows are the ones that broke the rules). A source
    column whose name collides with a quarantine column is kept as ``_original<name>``
    (Bronze's ``_run_id`` becomes ``_original_run_id``). No rules: quarantine holds anything.
    """
    originals = tuple(
        _relaxed(dataclasses.replace(p, name=original_name(p.name), path=original_name(p.path)))
        for p in contract.properties
    )
    table = contract.table + QUARANTINE_SUFFIX
    return Contract(
        table=table,
        id=contract.id + QUARANTINE_SUFFIX,
        name=table,
        version=contract.version,
        status=contract.status,
        api_version=contract.api_version,
        description=ContractDescription(
            purpose=f"Rows of {contract.table} held back by its contract's quarantine rules, "
            "with the rules they broke, until they are fixed and replayed.",
            usage="Inspect why rows were held; replay them after fixing the data or the rule.",
            limitations="Holds PII wherever the source table does.",
        ),
        table_description=f"Quarantined rows of {contract.table}",
        properties=(*QUARANTINE_PROPERTIES, *originals),
        rules=(),
        drift=contract.drift,
        source=contract.source,
        derived_from=contract.table,
    )


def _relaxed(prop: Property) -> Property:
    return dataclasses.replace(
        prop,
        required=False,
        unique=False,
        primary_key=False,
        primary_key_position=None,
        properties=tuple(_relaxed(c) for c in prop.properties),
    )


# --------------------------------------------------------------------------- parsing


def _parse_file(path: Path, problems: _Problems) -> Contract | None:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add("", "file not found")
        return None
    except yaml.YAMLError as exc:
        problems.add("", f"not valid YAML: {exc}")
        return None
    return _parse(data, problems, source=str(path))


def _parse(data: Any, problems: _Problems, source: str | None = None) -> Contract | None:
    if not isinstance(data, Mapping):
        problems.add("", f"expected a mapping at the top level, found {type(data).__name__}")
        return None
    _unknown(data, _TOP_KEYS, "", problems)
    api_version = _string(data, "apiVersion", "", problems)
    if api_version and api_version not in SUPPORTED_API_VERSIONS:
        problems.add("apiVersion", f"{api_version!r} is not one of {list(SUPPORTED_API_VERSIONS)}")
    kind = _string(data, "kind", "", problems)
    if kind and kind != "DataContract":
        problems.add("kind", f"expected 'DataContract', found {kind!r}")
    contract_id = _string(data, "id", "", problems)
    name = _string(data, "name", "", problems)
    version = _string(data, "version", "", problems)
    status = _string(data, "status", "", problems)
    if status and status not in STATUSES:
        problems.add("status", f"{status!r} is not one of {list(STATUSES)}")
    for key in ("domain", "dataProduct", "tenant"):
        _string(data, key, "", problems, required=False)
    _string_list(data.get("tags"), "tags", problems)
    description = _contract_description(data.get("description"), problems)
    drift = _contract_custom_properties(data.get("customProperties"), problems)

    schema = data.get("schema")
    if not isinstance(schema, list) or len(schema) != 1 or not isinstance(schema[0], Mapping):
        problems.add("schema", "expected a list with exactly one object (the table)")
        return None
    obj = schema[0]
    table = _string(obj, "physicalName", "schema[0]", problems)
    object_name = _string(obj, "name", "schema[0]", problems)
    where = f"schema[{object_name or 0}]"
    _unknown(obj, _OBJECT_KEYS, where, problems)
    if table:
        _check_table_name(table, f"{where}.physicalName", problems)
        if name and name != table:
            problems.add("name", f"expected the table name {table!r}, found {name!r}")
        if object_name and object_name != table.partition(".")[2]:
            problems.add(
                f"{where}.name",
                f"expected {table.partition('.')[2]!r} (from physicalName {table!r})",
            )
    if "logicalType" in obj and obj["logicalType"] != "object":
        problems.add(f"{where}.logicalType", f"expected 'object', found {obj['logicalType']!r}")
    table_description = _string(obj, "description", where, problems)
    for key in ("physicalType", "businessName", "dataGranularityDescription"):
        _string(obj, key, where, problems, required=False)
    _string_list(obj.get("tags"), f"{where}.tags", problems)

    raw_props = obj.get("properties")
    if not isinstance(raw_props, list) or not raw_props:
        problems.add(f"{where}.properties", "expected a non-empty list of columns")
        raw_props = []
    table = table or "unknown.unknown"
    properties = _properties(raw_props, f"{where}.properties", "", problems)
    rules: list[Rule] = []
    notes: list[str] = []
    for prop, raw in _walk_raw(properties, raw_props):
        pwhere = f"{where}.properties[{prop.path}]"
        quality = raw.get("quality")
        if quality is None:
            continue
        if not isinstance(quality, list):
            problems.add(f"{pwhere}.quality", "expected a list of rules")
            continue
        for i, entry in enumerate(quality):
            _rule(entry, f"{pwhere}.quality[{i}]", table, prop, problems, rules, notes)
    quality = obj.get("quality")
    if quality is not None:
        if not isinstance(quality, list):
            problems.add(f"{where}.quality", "expected a list of rules")
        else:
            for i, entry in enumerate(quality):
                _rule(entry, f"{where}.quality[{i}]", table, None, problems, rules, notes)

    contract = Contract(
        table=table,
        id=contract_id or "",
        name=name or "",
        version=version or "",
        status=status or "",
        api_version=api_version or "",
        description=description,
        table_description=table_description or "",
        properties=properties,
        rules=tuple(dataclasses.replace(r, origin=f"{problems.source}: {r.origin}") for r in rules),
        drift=drift,
        notes=tuple(notes),
        source=source or problems.source,
    )
    _check_consistency(contract, where, problems)
    return contract


def _contract_description(value: Any, problems: _Problems) -> ContractDescription:
    if not isinstance(value, Mapping):
        problems.add(
            "description",
            "expected a mapping with 'purpose' (and optionally 'usage', 'limitations'), "
            f"found {value!r}",
        )
        return ContractDescription(purpose="")
    _unknown(value, _DESCRIPTION_KEYS, "description", problems)
    return ContractDescription(
        purpose=_string(value, "purpose", "description", problems) or "",
        usage=_string(value, "usage", "description", problems, required=False) or "",
        limitations=_string(value, "limitations", "description", problems, required=False) or "",
    )


def _custom_properties(value: Any, where: str, problems: _Problems) -> dict[str, Any]:
    """ODCS ``customProperties``: a list of ``{property, value}`` pairs, as a dict."""
    if value is None:
        return {}
    if not isinstance(value, list):
        problems.add(where, "expected a list of {property, value} entries")
        return {}
    out: dict[str, Any] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or set(entry) - {"property", "value", "description"}:
            problems.add(
                f"{where}[{i}]", f"expected a mapping with 'property' and 'value', found {entry!r}"
            )
            continue
        key = entry.get("property")
        if not isinstance(key, str) or "value" not in entry:
            problems.add(f"{where}[{i}]", "needs a string 'property' and a 'value'")
            continue
        if key in out:
            problems.add(f"{where}[{i}]", f"property {key!r} is given twice")
        out[key] = entry["value"]
    return out


def _contract_custom_properties(value: Any, problems: _Problems) -> DriftPolicy:
    props = _custom_properties(value, "customProperties", problems)
    for key in props:
        if key != "schemaDrift":
            problems.add(
                f"customProperties.{key}", "unknown custom property (allowed: ['schemaDrift'])"
            )
    raw = props.get("schemaDrift")
    if raw is None:
        return DriftPolicy()
    where = "customProperties.schemaDrift"
    if not isinstance(raw, Mapping):
        problems.add(where, f"expected a mapping of drift kind to action, found {raw!r}")
        return DriftPolicy()
    kinds = [k.value for k in DriftKind]
    _unknown(raw, frozenset(kinds), where, problems)
    changes: dict[str, Action] = {}
    for key in kinds:
        if key in raw:
            action = _action_value(raw[key], f"{where}.{key}", problems)
            if action is not None and action not in TABLE_LEVEL_ACTIONS:
                problems.add(
                    f"{where}.{key}",
                    f"{action.value!r} cannot apply to a schema change (use 'warn' or 'fail')",
                )
            elif action is not None:
                changes[key] = action
    return DriftPolicy(**changes)


def _check_table_name(table: str, where: str, problems: _Problems) -> None:
    tier, sep, rest = table.partition(".")
    if not sep or not _TABLE_PART.match(rest):
        problems.add(where, f"expected '<tier>.<table>' (lower case, digits, _), found {table!r}")
        return
    if tier not in {t.value for t in Tier}:
        problems.add(where, f"unknown tier {tier!r} (known: {[t.value for t in Tier]})")
    if rest.endswith(QUARANTINE_SUFFIX):
        problems.add(
            where, "quarantine tables are derived from their table's contract; do not declare them"
        )


def _properties(
    raw_props: list[Any], where: str, parent: str, problems: _Problems
) -> tuple[Property, ...]:
    out: list[Property] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_props):
        if not isinstance(raw, Mapping):
            problems.add(f"{where}[{i}]", f"expected a mapping, found {raw!r}")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            problems.add(f"{where}[{i}].name", f"expected a column name, found {name!r}")
            continue
        pwhere = f"{where}[{name}]"
        if name in seen:
            problems.add(pwhere, "column declared twice")
        seen.add(name)
        _unknown(raw, _PROPERTY_KEYS, pwhere, problems)
        path = f"{parent}.{name}" if parent else name
        logical = _string(raw, "logicalType", pwhere, problems)
        if logical and logical not in LOGICAL_TYPES:
            problems.add(
                f"{pwhere}.logicalType", f"{logical!r} is not one of {list(LOGICAL_TYPES)}"
            )
        physical = _string(raw, "physicalType", pwhere, problems)
        description = _string(raw, "description", pwhere, problems)
        classification = _enum(
            raw.get("classification"), Classification, f"{pwhere}.classification", problems
        )
        required = _bool(raw, "required", pwhere, problems)
        unique = _bool(raw, "unique", pwhere, problems)
        primary_key = _bool(raw, "primaryKey", pwhere, problems)
        position = raw.get("primaryKeyPosition")
        if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
            problems.add(f"{pwhere}.primaryKeyPosition", f"expected an integer, found {position!r}")
            position = None
        for key in ("businessName", "transformLogic", "transformDescription"):
            _string(raw, key, pwhere, problems, required=False)
        for key in ("criticalDataElement", "partitioned"):
            _bool(raw, key, pwhere, problems)
        _string_list(raw.get("tags"), f"{pwhere}.tags", problems)
        _string_list(
            raw.get("transformSourceObjects"), f"{pwhere}.transformSourceObjects", problems
        )
        if "examples" in raw and not isinstance(raw["examples"], list):
            problems.add(f"{pwhere}.examples", "expected a list")

        children: tuple[Property, ...] = ()
        if raw.get("properties") is not None:
            if logical != "object" or not isinstance(raw["properties"], list):
                problems.add(
                    f"{pwhere}.properties",
                    "nested properties need logicalType 'object' and a list of columns",
                )
            else:
                children = _properties(raw["properties"], f"{pwhere}.properties", path, problems)
        data_type = _data_type(physical, children, f"{pwhere}.physicalType", problems)
        if logical and data_type is not None and logical not in _logical_types_for(data_type):
            problems.add(
                f"{pwhere}.logicalType",
                f"{logical!r} does not describe physicalType {physical!r} "
                f"(expected one of {_logical_types_for(data_type)})",
            )
        _items(raw.get("items"), data_type, f"{pwhere}.items", problems)
        out.append(
            Property(
                name=name,
                path=path,
                logical_type=logical or "",
                physical_type=physical or "",
                data_type=data_type or StringType(),
                required=required,
                unique=unique,
                primary_key=primary_key,
                primary_key_position=position,
                classification=classification or Classification.PUBLIC,
                description=description or "",
                properties=children,
            )
        )
    return tuple(out)


def _data_type(
    physical: str | None, children: tuple[Property, ...], where: str, problems: _Problems
) -> DataType | None:
    if children:
        struct = StructType([c.struct_field() for c in children])
        if physical and physical.strip().lower() != "struct":
            try:
                declared = parse_type(physical)
            except TypeStringError as exc:
                problems.add(where, str(exc))
                return struct
            if declared.simpleString() != struct.simpleString():
                problems.add(
                    where,
                    f"{physical!r} disagrees with the nested properties ({struct.simpleString()}); "
                    "write 'struct' and let the nested properties define it",
                )
        return struct
    if not physical:
        return None
    try:
        return parse_type(physical)
    except TypeStringError as exc:
        problems.add(where, str(exc))
        return None


def _logical_types_for(data_type: DataType) -> tuple[str, ...]:
    if isinstance(data_type, StringType | BinaryType):
        return ("string",)
    if isinstance(data_type, BooleanType):
        return ("boolean",)
    if isinstance(data_type, IntegralType):
        return ("integer",)
    if isinstance(data_type, FloatType | DoubleType | DecimalType):
        return ("number",)
    if isinstance(data_type, DateType | TimestampType | TimestampNTZType):
        return ("date",)
    if isinstance(data_type, ArrayType):
        return ("array",)
    if isinstance(data_type, StructType | MapType):
        return ("object",)
    return LOGICAL_TYPES


def _items(value: Any, data_type: DataType | None, where: str, problems: _Problems) -> None:
    if value is None:
        return
    if not isinstance(data_type, ArrayType):
        problems.add(where, "'items' only applies to array columns")
        return
    if not isinstance(value, Mapping):
        problems.add(where, f"expected a mapping, found {value!r}")
        return
    _unknown(value, _ITEMS_KEYS, where, problems)
    physical = value.get("physicalType")
    if physical is not None:
        try:
            element = parse_type(str(physical))
        except TypeStringError as exc:
            problems.add(f"{where}.physicalType", str(exc))
            return
        if element.simpleString() != data_type.elementType.simpleString():
            problems.add(
                f"{where}.physicalType",
                f"{physical!r} disagrees with the array's element type "
                f"{data_type.elementType.simpleString()!r}",
            )


def _walk_raw(
    props: tuple[Property, ...], raws: list[Any]
) -> list[tuple[Property, Mapping[str, Any]]]:
    """Pair parsed properties with their raw mappings (nested ones included)."""
    by_name = {r.get("name"): r for r in raws if isinstance(r, Mapping)}
    out: list[tuple[Property, Mapping[str, Any]]] = []
    for prop in props:
        raw = by_name.get(prop.name)
        if raw is None:
            continue
        out.append((prop, raw))
        nested = raw.get("properties")
        if prop.properties and isinstance(nested, list):
            out.extend(_walk_raw(prop.properties, nested))
    return out


# --------------------------------------------------------------------------- rules


def _rule(
    entry: Any,
    where: str,
    table: str,
    prop: Property | None,
    problems: _Problems,
    rules: list[Rule],
    notes: list[str],
) -> None:
    """One ODCS quality entry: a Rule appended to ``rules``, or a ``text`` note to ``notes``.

    ``prop`` is the column the entry is declared under (None for table-level entries). Every
    problem is recorded; the rule is only kept when it is complete.
    """
    if not isinstance(entry, Mapping):
        problems.add(where, f"expected a mapping, found {entry!r}")
        return
    _unknown(entry, _QUALITY_KEYS, where, problems)
    rule_type = entry.get("type", "library")
    description = _string(entry, "description", where, problems, required=False) or ""
    for key in ("name", "severity", "businessImpact", "method", "unit"):
        _string(entry, key, where, problems, required=False)
    dimension = _string(entry, "dimension", where, problems, required=False)
    if dimension and dimension not in _DIMENSIONS:
        problems.add(f"{where}.dimension", f"{dimension!r} is not one of {list(_DIMENSIONS)}")
    _string_list(entry.get("tags"), f"{where}.tags", problems)

    if rule_type == "text":
        if not description:
            problems.add(where, "a 'text' rule needs a description")
        extra = set(entry) & {"rule", "arguments", "customProperties", "engine", "implementation"}
        if extra:
            problems.add(where, f"a 'text' rule is documentation only; remove {sorted(extra)}")
        notes.append(f"{prop.path}: {description}" if prop else description)
        return
    if rule_type == "sql":
        problems.add(
            f"{where}.type",
            "'sql' rules (a query compared with mustBe...) are not supported; write a row "
            f"predicate as type 'custom' with engine '{CUSTOM_ENGINE}'",
        )
        return
    if rule_type == "custom":
        kind: RuleKind | None = RuleKind.CUSTOM
        if "rule" in entry:
            problems.add(f"{where}.rule", "a 'custom' rule has no 'rule'; use 'implementation'")
    elif rule_type == "library":
        rule_name = entry.get("rule")
        kind = LIBRARY_RULES.get(rule_name) if isinstance(rule_name, str) else None
        if kind is None:
            problems.add(f"{where}.rule", f"{rule_name!r} is not one of {sorted(LIBRARY_RULES)}")
            return
    else:
        problems.add(f"{where}.type", f"{rule_type!r} is not one of ['custom', 'library', 'text']")
        return
    assert kind is not None

    level_kinds = _PROPERTY_LEVEL_KINDS if prop else _SCHEMA_LEVEL_KINDS
    if kind not in level_kinds:
        hint = (
            "declare it under the schema object's quality"
            if prop
            else "declare it under the column's quality"
        )
        problems.add(where, f"rule {kind.odcs_rule!r} does not apply here: {hint}")
        return

    custom = _custom_properties(
        entry.get("customProperties"), f"{where}.customProperties", problems
    )
    for key in custom:
        if key not in ("action", "mostly"):
            problems.add(
                f"{where}.customProperties.{key}",
                "unknown custom property (allowed: ['action', 'mostly'])",
            )
    action = None
    if "action" not in custom:
        problems.add(
            f"{where}.customProperties",
            f"every rule needs an action ({[a.value for a in Action]}): "
            "add '- {property: action, value: ...}'",
        )
    else:
        action = _action_value(custom["action"], f"{where}.customProperties.action", problems)
    if action is not None and not kind.row_level and action not in TABLE_LEVEL_ACTIONS:
        problems.add(
            f"{where}.customProperties.action",
            f"{action.value!r} needs rows to split, but {kind.odcs_rule!r} judges the whole "
            "table: use 'warn' or 'fail'",
        )
        action = None
    mostly = 1.0
    if "mostly" in custom:
        raw_mostly = custom["mostly"]
        if (
            isinstance(raw_mostly, bool)
            or not isinstance(raw_mostly, int | float)
            or not 0 < raw_mostly <= 1
        ):
            problems.add(
                f"{where}.customProperties.mostly",
                f"expected a number in (0, 1], found {raw_mostly!r}",
            )
        elif kind in (RuleKind.ROW_COUNT, RuleKind.FRESHNESS):
            problems.add(
                f"{where}.customProperties.mostly", f"does not apply to {kind.odcs_rule!r}"
            )
        else:
            mostly = float(raw_mostly)

    arguments = entry.get("arguments", {})
    if not isinstance(arguments, Mapping):
        problems.add(f"{where}.arguments", f"expected a mapping, found {arguments!r}")
        arguments = {}
    _unknown(arguments, _RULE_ARGUMENTS[kind], f"{where}.arguments", problems)
    operators = {k: entry[k] for k in _OPERATORS if k in entry}
    if operators and kind not in (RuleKind.ROW_COUNT, RuleKind.FRESHNESS):
        problems.add(
            where,
            f"comparison operators {sorted(operators)} do not apply to {kind.odcs_rule!r} "
            "(use arguments, and customProperties 'mostly' for a tolerance)",
        )

    columns: tuple[str, ...] = (prop.path,) if prop else ()
    fields: dict[str, Any] = {}
    awhere = f"{where}.arguments"
    if kind is RuleKind.UNIQUE and prop is None:
        cols = arguments.get("properties")
        if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
            problems.add(f"{awhere}.properties", "expected the list of key columns")
        else:
            columns = tuple(cols)
    elif kind is RuleKind.UNIQUE and "properties" in arguments:
        problems.add(f"{awhere}.properties", "a column's unique rule is on that column only")
    elif kind is RuleKind.ACCEPTED_VALUES:
        values = arguments.get("validValues")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str | int | float | bool) for v in values)
        ):
            problems.add(
                f"{awhere}.validValues", f"expected a non-empty list of values, found {values!r}"
            )
        else:
            fields["values"] = tuple(values)
            if prop is not None and isinstance(prop.data_type, StringType):
                unquoted = [v for v in values if not isinstance(v, str)]
                if unquoted:
                    problems.add(
                        f"{awhere}.validValues",
                        f"{unquoted!r} are not strings but {prop.path!r} is a string column: "
                        "quote them (YAML reads true, 1 or 2026-01-01 as other types)",
                    )
    elif kind is RuleKind.RANGE:
        assert prop is not None
        fields.update(_range(arguments, prop, awhere, problems))
    elif kind is RuleKind.FORMAT:
        fmt = _enum(arguments.get("format"), NamedFormat, f"{awhere}.format", problems)
        if fmt is not None:
            fields["format"] = fmt
    elif kind is RuleKind.REGEX:
        pattern = arguments.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            problems.add(f"{awhere}.pattern", f"expected a regular expression, found {pattern!r}")
        else:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.add(f"{awhere}.pattern", f"not a valid regular expression: {exc}")
            fields["pattern"] = pattern
    elif kind is RuleKind.REFERENTIAL:
        ref = arguments.get("references")
        if not isinstance(ref, str) or not _REFERENCE.match(ref):
            problems.add(
                f"{awhere}.references", f"expected '<tier>.<table>.<column>', found {ref!r}"
            )
        else:
            fields["references"] = ref
    elif kind is RuleKind.ROW_COUNT:
        lo, hi = _operator_bounds(operators, where, problems)
        fields.update(minimum=lo, maximum=hi)
    elif kind is RuleKind.FRESHNESS:
        assert prop is not None
        fields["max_age"] = _max_age(entry, operators, prop, where, problems)
    elif kind is RuleKind.CUSTOM:
        engine = entry.get("engine")
        if engine != CUSTOM_ENGINE:
            problems.add(f"{where}.engine", f"expected {CUSTOM_ENGINE!r}, found {engine!r}")
        expression = entry.get("implementation")
        if not isinstance(expression, str) or not expression.strip():
            problems.add(
                f"{where}.implementation",
                "expected a Spark SQL boolean expression that valid rows satisfy",
            )
        else:
            fields["expression"] = expression.strip()
    if kind is not RuleKind.CUSTOM and ("engine" in entry or "implementation" in entry):
        problems.add(where, "'engine' and 'implementation' belong to 'custom' rules")

    suffix = entry.get("id")
    if suffix is not None and (not isinstance(suffix, str) or not _STABLE_ID.match(suffix)):
        problems.add(f"{where}.id", f"expected letters, digits, '_' or '-', found {suffix!r}")
        suffix = None
    rule_id = ".".join(
        [table, *(["+".join(columns)] if columns else []), str(suffix or kind.value)]
    )
    if action is None:
        return
    rules.append(
        Rule(
            id=rule_id,
            table=table,
            kind=kind,
            action=action,
            columns=columns,
            mostly=mostly,
            description=description,
            dimension=dimension,
            origin=where,
            **fields,
        )
    )


def _range(
    arguments: Mapping[str, Any], prop: Property, where: str, problems: _Problems
) -> dict[str, Any]:
    if "min" not in arguments and "max" not in arguments:
        problems.add(where, "a range needs 'min', 'max' or both")
        return {}
    temporal = isinstance(prop.data_type, DateType | TimestampType | TimestampNTZType)
    numeric = isinstance(prop.data_type, IntegralType | FloatType | DoubleType | DecimalType)
    out: dict[str, Any] = {}
    for key, target in (("min", "minimum"), ("max", "maximum")):
        if key not in arguments:
            continue
        value = arguments[key]
        if numeric and not isinstance(value, bool) and isinstance(value, int | float):
            out[target] = value
        elif temporal and isinstance(value, dt.date | str) and _iso_temporal(value):
            out[target] = value.isoformat() if isinstance(value, dt.date) else value
        else:
            wanted = "an ISO date or timestamp" if temporal else "a number"
            if not numeric and not temporal:
                wanted = f"nothing: range does not apply to {prop.physical_type!r} columns"
            problems.add(f"{where}.{key}", f"expected {wanted}, found {value!r}")
    lo, hi = out.get("minimum"), out.get("maximum")
    if lo is not None and hi is not None and type(lo) is type(hi) and lo > hi:
        problems.add(where, f"min {lo!r} is greater than max {hi!r}")
    return out


def _iso_temporal(value: dt.date | str) -> bool:
    if isinstance(value, dt.date):
        return True
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _operator_bounds(
    operators: Mapping[str, Any], where: str, problems: _Problems
) -> tuple[int | None, int | None]:
    if not operators:
        problems.add(where, "rowCount needs a bound: mustBeBetween, mustBeGreaterOrEqualTo, ...")
        return None, None
    lo: int | None = None
    hi: int | None = None
    for key, value in operators.items():
        if key == "mustBeBetween":
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                and value[0] <= value[1]
            ):
                problems.add(f"{where}.{key}", f"expected [min, max] integers, found {value!r}")
                continue
            lo, hi = value[0], value[1]
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(f"{where}.{key}", f"expected an integer, found {value!r}")
            continue
        if key == "mustBe":
            lo = hi = value
        elif key == "mustBeGreaterThan":
            lo = value + 1
        elif key == "mustBeGreaterOrEqualTo":
            lo = value
        elif key == "mustBeLessThan":
            hi = value - 1
        elif key == "mustBeLessOrEqualTo":
            hi = value
    if lo is not None and hi is not None and lo > hi:
        problems.add(where, f"row count bounds are empty (min {lo} > max {hi})")
    return lo, hi


def _max_age(
    entry: Mapping[str, Any],
    operators: Mapping[str, Any],
    prop: Property,
    where: str,
    problems: _Problems,
) -> dt.timedelta | None:
    if not isinstance(prop.data_type, DateType | TimestampType | TimestampNTZType):
        problems.add(
            where,
            f"freshness needs a date or timestamp column, {prop.path!r} is {prop.physical_type!r}",
        )
    allowed = {"mustBeLessOrEqualTo", "mustBeLessThan"}
    if set(operators) - allowed or len(operators) != 1:
        problems.add(
            where,
            "freshness needs exactly one of mustBeLessOrEqualTo / mustBeLessThan "
            "(the maximum age) and a unit",
        )
        return None
    value = next(iter(operators.values()))
    unit = entry.get("unit")
    if unit not in _AGE_UNITS:
        problems.add(f"{where}.unit", f"expected one of {sorted(_AGE_UNITS)}, found {unit!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        problems.add(where, f"the maximum age must be a positive number, found {value!r}")
        return None
    return dt.timedelta(seconds=float(value) * _AGE_UNITS[unit])


def _check_consistency(contract: Contract, where: str, problems: _Problems) -> None:
    """Cross-checks inside one contract: rule columns, keys, flags, unique rule ids."""
    seen: dict[str, str] = {}
    for rule in contract.rules:
        if rule.id in seen:
            problems.items.append(
                f"{rule.origin}: rule id {rule.id!r} is also used by {seen[rule.id]}; "
                "give one of them an 'id'"
            )
        seen[rule.id] = rule.origin.split(": ", 1)[-1]
        for col in rule.columns:
            if contract.find(col) is None:
                problems.items.append(
                    f"{rule.origin}: column {col!r} is not declared "
                    f"(columns: {list(contract.columns)})"
                )
    unique_sets = {frozenset(r.columns) for r in contract.rules if r.kind is RuleKind.UNIQUE}
    keys = [p for p in contract.properties if p.primary_key]
    if keys and frozenset(p.name for p in keys) not in unique_sets:
        problems.add(
            where,
            f"primary key {[p.name for p in keys]} has no 'unique' rule over exactly those columns",
        )
    positions = [p.primary_key_position for p in keys if p.primary_key_position is not None]
    if positions and sorted(positions) != list(range(1, len(keys) + 1)):
        problems.add(where, f"primaryKeyPosition values {positions} are not 1..{len(keys)}")
    for prop in contract.walk():
        if prop.unique and frozenset({prop.path}) not in unique_sets:
            problems.add(
                f"{where}.properties[{prop.path}]",
                "unique: true has no 'unique' rule enforcing it",
            )


# --------------------------------------------------------------------------- value helpers


def _unknown(
    data: Mapping[str, Any], allowed: frozenset[str], where: str, problems: _Problems
) -> None:
    for key in data:
        if key not in allowed:
            problems.add(
                f"{where}.{key}" if where else str(key), f"unknown key (allowed: {sorted(allowed)})"
            )


def _string(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems, *, required: bool = True
) -> str | None:
    path = f"{where}.{key}" if where else key
    if key not in data or data[key] is None:
        if required:
            problems.add(path, "required key is missing")
        return None
    value = data[key]
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(path, f"expected a non-empty string, found {value!r}")
        return None
    return value


def _bool(data: Mapping[str, Any], key: str, where: str, problems: _Problems) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        problems.add(f"{where}.{key}", f"expected true or false, found {value!r}")
        return False
    return value


def _string_list(value: Any, where: str, problems: _Problems) -> None:
    if value is not None and (
        not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    ):
        problems.add(where, f"expected a list of strings, found {value!r}")


def _enum(value: Any, enum_cls: Callable[[Any], Any], where: str, problems: _Problems) -> Any:
    if value is None:
        allowed = [m.value for m in enum_cls]  # type: ignore[attr-defined]
        problems.add(where, f"required key is missing (one of {allowed})")
        return None
    try:
        return enum_cls(value)
    except ValueError:
        allowed = [m.value for m in enum_cls]  # type: ignore[attr-defined]
        problems.add(where, f"{value!r} is not one of {allowed}")
        return None


def _action_value(value: Any, where: str, problems: _Problems) -> Action | None:
    action: Action | None = _enum(value, Action, where, problems)
    return action
