"""Row rules compiled into Spark column expressions, one per rule, keyed by rule id.

Great Expectations reports how many rows break a rule but cannot say which, so rows could not be
dropped or quarantined from its results. Each row rule therefore also compiles into a boolean
:class:`~pyspark.sql.Column` that is true exactly when a row breaks the rule. The expressions
are built from Spark built-ins only (no UDFs), never evaluate to null, and can all be computed
in a single pass over the data.

Null semantics follow SQL CHECK constraints and Great Expectations: only ``notNull`` judges
nulls; every other rule lets a null through (a custom predicate that evaluates to null passes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType

from crm_lakehouse.contracts.model import Contract, Rule, RuleKind

ResolveTable = Callable[[str], DataFrame | None]
"""Returns the current DataFrame of a table named ``<tier>.<table>``, or None if it is missing."""

_REF_FLAG = "__dq_ref{}"
_REF_KEY = "__dq_refkey{}"


@dataclass(frozen=True)
class RowCheck:
    """A compiled row rule: ``violated`` is true (never null) for rows breaking ``rule``."""

    rule: Rule
    violated: Column


def col(path: str) -> Column:
    """A column by dotted path, quoting each part (source columns may hold odd characters)."""
    return F.col(".".join(f"`{part}`" for part in path.split(".")))


def violation(rule: Rule, contract: Contract, reference_flag: str | None = None) -> Column:
    """The expression true for rows breaking ``rule``.

    ``reference_flag`` names the column :func:`attach_references` added for a referential rule
    (true where the value was found in the target table).
    """
    if not rule.row_level:
        raise ValueError(f"{rule.id}: {rule.kind.value} is a table-level rule, not a row rule")
    kind = rule.kind
    if kind is RuleKind.CUSTOM:
        assert rule.expression is not None
        return ~F.coalesce(F.expr(rule.expression).cast("boolean"), F.lit(True))
    column = rule.column
    assert column is not None, rule.id
    value = col(column)
    if kind is RuleKind.NOT_NULL:
        return value.isNull()
    if kind is RuleKind.REFERENTIAL:
        if reference_flag is None:
            raise ValueError(f"{rule.id}: referential rules need attach_references() first")
        return value.isNotNull() & F.col(reference_flag).isNull()
    if kind in (RuleKind.ACCEPTED_VALUES, RuleKind.FORMAT) and rule.value_set():
        broken = ~value.isin(list(rule.value_set()))
    elif kind is RuleKind.RANGE:
        prop = contract.find(column)
        cast_to: DataType | str = prop.data_type if prop is not None else "string"
        conditions = []
        if rule.minimum is not None:
            lo = F.lit(rule.minimum)
            conditions.append(value < (lo.cast(cast_to) if isinstance(rule.minimum, str) else lo))
        if rule.maximum is not None:
            hi = F.lit(rule.maximum)
            conditions.append(value > (hi.cast(cast_to) if isinstance(rule.maximum, str) else hi))
        broken = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    elif rule.regex() is not None:
        broken = ~value.cast("string").rlike(str(rule.regex()))
    else:
        raise ValueError(f"{rule.id}: cannot compile {kind.value} into a row predicate")
    return value.isNotNull() & F.coalesce(broken, F.lit(False))


def attach_references(
    df: DataFrame, contract: Contract, resolve_table: ResolveTable | None
) -> tuple[DataFrame, dict[str, str | None]]:
    """Left-join the distinct target keys of every referential rule onto ``df``.

    Returns the widened frame and, per referential rule id, the flag column that is true where
    the value exists in the target (None when the target table is not available: the rule cannot
    be judged row by row and is reported as not passed). The targets are de-duplicated first, so
    the join never multiplies rows; Spark broadcasts them when they are small.
    """
    flags: dict[str, str | None] = {}
    counter = itertools.count()
    for rule in contract.row_rules:
        if rule.kind is not RuleKind.REFERENTIAL:
            continue
        target = resolve_table(rule.reference_table) if resolve_table is not None else None
        if target is None:
            flags[rule.id] = None
            continue
        i = next(counter)
        key, flag = _REF_KEY.format(i), _REF_FLAG.format(i)
        keys = (
            target.select(col(rule.reference_column).alias(key))
            .where(F.col(key).isNotNull())
            .distinct()
            .withColumn(flag, F.lit(True))
        )
        assert rule.column is not None
        df = df.join(keys, col(rule.column) == F.col(key), "left").drop(key)
        flags[rule.id] = flag
    return df, flags


def row_checks(
    contract: Contract, reference_flags: Mapping[str, str | None] | None = None
) -> list[RowCheck]:
    """Compile every row rule of ``contract`` (referential ones only where a flag exists)."""
    flags = reference_flags or {}
    checks = []
    for rule in contract.row_rules:
        if rule.kind is RuleKind.REFERENTIAL:
            flag = flags.get(rule.id)
            if flag is None:
                continue
            checks.append(RowCheck(rule, violation(rule, contract, flag)))
        else:
            checks.append(RowCheck(rule, violation(rule, contract)))
    return checks
