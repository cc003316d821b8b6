"""The parsed form of a data contract: frozen, typed, validated once.

A :class:`Contract` describes one table (``<tier>.<table>``): its columns (:class:`Property`,
with Spark types, nullability, keys and a data classification) and its quality rules
(:class:`Rule`), each with an :class:`Action` saying what happens to rows or to the publish when
the rule is broken. Everything here is plain data; compiling rules into Spark predicates or Great
Expectations suites lives in :mod:`~crm_lakehouse.contracts.predicates` and
:mod:`~crm_lakehouse.contracts.gx_suite`.

Rule ids are stable and readable, ``<tier>.<table>[.<column>].<kind or id>``
(``silver.opportunities.amount.range``), because they are what ``ops.dq_results``, the
quarantine tables and error messages show, and what an engineer greps for.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyspark.sql.types import DataType, StructField, StructType

from crm_lakehouse.contracts.formats import FORMATS, NamedFormat


class Action(enum.StrEnum):
    """What a broken rule does.

    ``warn`` records; ``drop`` removes the offending rows and counts them; ``quarantine`` holds
    them in ``<tier>.<table>__quarantine`` with reasons; ``fail`` publishes nothing and stops.
    """

    WARN = "warn"
    DROP = "drop"
    QUARANTINE = "quarantine"
    FAIL = "fail"


class RuleKind(enum.StrEnum):
    NOT_NULL = "not_null"
    UNIQUE = "unique"
    ACCEPTED_VALUES = "accepted_values"
    RANGE = "range"
    FORMAT = "format"
    REGEX = "regex"
    REFERENTIAL = "referential"
    ROW_COUNT = "row_count"
    FRESHNESS = "freshness"
    CUSTOM = "custom"

    @property
    def row_level(self) -> bool:
        """Row rules judge each row on its own, so failing rows can be split off.

        Uniqueness, row counts and freshness are properties of the whole table: they can only
        gate the publish (``warn`` or ``fail``), and they run in the Great Expectations suite.
        """
        return self not in (RuleKind.UNIQUE, RuleKind.ROW_COUNT, RuleKind.FRESHNESS)

    @property
    def odcs_rule(self) -> str:
        """The name used in the contract YAML (``rule:`` of an ODCS ``library`` quality entry)."""
        return _ODCS_NAMES[self]


_ODCS_NAMES = {
    RuleKind.NOT_NULL: "notNull",
    RuleKind.UNIQUE: "unique",
    RuleKind.ACCEPTED_VALUES: "acceptedValues",
    RuleKind.RANGE: "range",
    RuleKind.FORMAT: "format",
    RuleKind.REGEX: "regex",
    RuleKind.REFERENTIAL: "referential",
    RuleKind.ROW_COUNT: "rowCount",
    RuleKind.FRESHNESS: "freshness",
    RuleKind.CUSTOM: "custom",
}
LIBRARY_RULES: dict[str, RuleKind] = {
    name: kind for kind, name in _ODCS_NAMES.items() if kind is not RuleKind.CUSTOM
}
TABLE_LEVEL_ACTIONS = frozenset({Action.WARN, Action.FAIL})


class Classification(enum.StrEnum):
    """How sensitive a column's values are. ``pii`` values never appear in any DQ result."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"


class DriftKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    RETYPED = "retyped"


@dataclass(frozen=True)
class DriftPolicy:
    """The action for each kind of schema drift (only ``warn`` and ``fail`` make sense).

    Defaults: an added column is recorded (Bronze rescues it, nothing is lost); a removed,
    renamed or retyped column stops the run, because Silver would silently read nulls.
    """

    added: Action = Action.WARN
    removed: Action = Action.FAIL
    renamed: Action = Action.FAIL
    retyped: Action = Action.FAIL

    def action(self, kind: DriftKind) -> Action:
        action: Action = getattr(self, kind.value)
        return action


@dataclass(frozen=True)
class Property:
    """One column (or a field of a struct column; ``path`` is dotted from the table root)."""

    name: str
    path: str
    logical_type: str
    physical_type: str
    data_type: DataType
    required: bool
    unique: bool
    primary_key: bool
    primary_key_position: int | None
    classification: Classification
    description: str
    properties: tuple[Property, ...] = ()

    @property
    def pii(self) -> bool:
        """PII itself, or a struct holding a PII field (its values would carry the PII)."""
        return self.classification is Classification.PII or any(p.pii for p in self.properties)

    def walk(self) -> Iterator[Property]:
        yield self
        for child in self.properties:
            yield from child.walk()

    def struct_field(self) -> StructField:
        return StructField(self.name, self.data_type, nullable=not self.required)


@dataclass(frozen=True)
class Rule:
    """One quality rule, with everything needed to compile it and to explain a failure.

    ``columns`` is empty for rules on the whole table (row counts, table-wide custom checks).
    Bounds are inclusive. For ``format`` rules the named format's regex or value set is resolved
    through :data:`~crm_lakehouse.contracts.formats.FORMATS`.
    """

    id: str
    table: str
    kind: RuleKind
    action: Action
    columns: tuple[str, ...] = ()
    mostly: float = 1.0
    values: tuple[str | int | float | bool, ...] = ()
    minimum: float | int | str | None = None
    maximum: float | int | str | None = None
    pattern: str | None = None
    format: NamedFormat | None = None
    references: str | None = None
    max_age: dt.timedelta | None = None
    expression: str | None = None
    description: str = ""
    dimension: str | None = None
    origin: str = ""
    """Where the rule was declared (``file: schema[t].properties[c].quality[0]``)."""

    @property
    def row_level(self) -> bool:
        return self.kind.row_level

    @property
    def column(self) -> str | None:
        return self.columns[0] if len(self.columns) == 1 else None

    @property
    def reference_table(self) -> str:
        """``silver.company_records`` for ``references: silver.company_records.source_id``."""
        return (self.references or "").rsplit(".", 1)[0]

    @property
    def reference_column(self) -> str:
        return (self.references or "").rsplit(".", 1)[-1]

    def regex(self) -> str | None:
        """The regular expression a valid value matches (regex and regex-based formats)."""
        if self.kind is RuleKind.REGEX:
            return self.pattern
        if self.kind is RuleKind.FORMAT and self.format is not None:
            return FORMATS[self.format].pattern
        return None

    def value_set(self) -> tuple[str | int | float | bool, ...]:
        """The allowed values (accepted values and set-based formats such as ISO countries)."""
        if self.kind is RuleKind.FORMAT and self.format is not None:
            return FORMATS[self.format].values
        return self.values

    def threshold(self) -> str:
        """The pass condition in words, as recorded in ``ops.dq_results.threshold``."""
        if self.kind is RuleKind.ROW_COUNT:
            return f"row count {_bounds(self.minimum, self.maximum)}"
        if self.kind is RuleKind.FRESHNESS:
            return f"newest {self.column} at most {_age(self.max_age)} old"
        if self.mostly >= 1.0:
            return "no violating rows"
        return f"at most {(1 - self.mostly) * 100:.4g}% violating rows (mostly {self.mostly:g})"

    def summary(self) -> str:
        """What the rule expects, in words (Data Docs shows it beside each result)."""
        col = ", ".join(self.columns) or "row"
        kind = self.kind
        if kind is RuleKind.NOT_NULL:
            text = f"{col} is never null"
        elif kind is RuleKind.ACCEPTED_VALUES:
            text = f"{col} is one of [{', '.join(map(str, self.values))}]"
        elif kind is RuleKind.RANGE:
            text = f"{col} is {_bounds(self.minimum, self.maximum)}"
        elif kind is RuleKind.FORMAT and self.format is not None:
            text = f"{col} is {FORMATS[self.format].description}"
        elif kind is RuleKind.REGEX:
            text = f"{col} matches /{self.pattern}/"
        elif kind is RuleKind.REFERENTIAL:
            text = f"{col} exists in {self.references}"
        elif kind is RuleKind.CUSTOM:
            text = self.description or str(self.expression)
        elif kind is RuleKind.UNIQUE:
            text = f"({col}) is unique"
        else:
            return self.threshold()
        if self.mostly < 1:
            text += f", for at least {self.mostly * 100:g}% of rows"
        return text

    def reason(self) -> str:
        """Why a row breaks this rule, in words, without any value from the row.

        Used in the ``_reasons`` column of quarantine tables; it must never quote data, because
        the reasons are also logged and summarised where PII must not appear.
        """
        col = ", ".join(self.columns) or "row"
        kind = self.kind
        if kind is RuleKind.NOT_NULL:
            text = f"{col} is missing (null)"
        elif kind is RuleKind.ACCEPTED_VALUES:
            shown = ", ".join(map(str, self.values[:10])) + (
                ", ..." if len(self.values) > 10 else ""
            )
            text = f"{col} is not one of [{shown}]"
        elif kind is RuleKind.RANGE:
            text = f"{col} is outside the range {_bounds(self.minimum, self.maximum)}"
        elif kind is RuleKind.FORMAT and self.format is not None:
            text = f"{col} is not {FORMATS[self.format].description}"
        elif kind is RuleKind.REGEX:
            text = f"{col} does not match /{self.pattern}/"
        elif kind is RuleKind.REFERENTIAL:
            text = f"{col} has no match in {self.references}"
        elif kind is RuleKind.CUSTOM:
            text = f"fails the check {self.description or self.expression}"
        elif kind is RuleKind.UNIQUE:
            text = f"({col}) is duplicated"
        else:
            text = self.threshold()
        return f"{self.id}: {text}"


@dataclass(frozen=True)
class ContractDescription:
    """ODCS's contract-level description: why the table exists, how to use it, its limits."""

    purpose: str
    usage: str = ""
    limitations: str = ""


@dataclass(frozen=True)
class Contract:
    """A table's contract: columns, rules, drift policy. ``table`` is ``<tier>.<table>``."""

    table: str
    id: str
    name: str
    version: str
    status: str
    api_version: str
    description: ContractDescription
    table_description: str
    properties: tuple[Property, ...]
    rules: tuple[Rule, ...]
    drift: DriftPolicy = field(default_factory=DriftPolicy)
    notes: tuple[str, ...] = ()
    """ODCS ``type: text`` quality entries: documented expectations that are not enforced."""
    source: str = ""
    derived_from: str | None = None
    """For derived contracts (quarantine tables): the table whose contract this comes from."""

    @property
    def tier(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def columns(self) -> tuple[str, ...]:
        """Top-level column names, in contract order."""
        return tuple(p.name for p in self.properties)

    def walk(self) -> Iterator[Property]:
        """Every property, nested struct fields included, depth first."""
        for prop in self.properties:
            yield from prop.walk()

    def find(self, path: str) -> Property | None:
        """The property at a dotted path (``properties.email``), or None."""
        for prop in self.walk():
            if prop.path == path:
                return prop
        return None

    @property
    def pii_columns(self) -> frozenset[str]:
        """Paths whose values are PII (PII fields and the structs holding them)."""
        return frozenset(p.path for p in self.walk() if p.pii)

    def touches_pii(self, rule: Rule) -> bool:
        """True when a rule's results could reveal PII values.

        A rule touches PII when one of its columns is PII (or a struct holding PII fields).
        Custom SQL checks may read any column, so they touch PII whenever the table has any.
        """
        if rule.kind is RuleKind.CUSTOM and any(p.pii for p in self.properties):
            return True
        for column in rule.columns:
            prop = self.find(column)
            if prop is None or prop.pii:
                return True
        return False

    @property
    def row_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.row_level)

    @property
    def table_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not r.row_level)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"{self.table}: no rule {rule_id!r}")

    @property
    def primary_key(self) -> tuple[str, ...]:
        keyed = [p for p in self.properties if p.primary_key]
        return tuple(p.name for p in sorted(keyed, key=lambda p: p.primary_key_position or 0))

    def spark_schema(self) -> StructType:
        """The table's schema as the contract states it (nullable unless ``required``)."""
        return StructType([p.struct_field() for p in self.properties])

    @property
    def has_quarantine(self) -> bool:
        return any(r.action is Action.QUARANTINE for r in self.rules)


def _bounds(lo: object, hi: object) -> str:
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def _age(age: dt.timedelta | None) -> str:
    if age is None:
        return "?"
    seconds = int(age.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}min"
