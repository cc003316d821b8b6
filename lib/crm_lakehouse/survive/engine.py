"""Survivorship: one function turns clustered source records into golden values with lineage.

:func:`survive` is the only place survivorship rules are applied. Candidates of an attribute are
ordered by the attribute's strategies from ``conf/rules/survivorship.yaml`` (each a double, lower
wins) and then by source system and source id, so the winner never depends on partitioning or
input order. The winner keeps its lineage: ``<attr>_source``, ``<attr>_source_id``,
``<attr>_as_of`` and ``<attr>_rule`` (the strategy that separated its value from the best
*different* value; ``only_candidate``, ``unanimous`` when all candidates agree, or
``tie_break``).

How, and why this shape (it used to be windows, a self-join and a pivot over one row per
candidate, the slowest step of a Silver run):

1. Records are shuffled once, by entity. Every later aggregation groups by the entity plus
   more, so it reuses that partitioning: one narrow shuffle of records instead of shuffling
   the (attributes times larger) candidate rows twice.
2. Candidates are aggregated to one row per (entity, attribute, value): the number of copies
   (the ``most_frequent`` frequency) and the best copy, the minimum of the copies' keys. The
   frequency is the same for every copy of a value, so ordering the values by their best copy's
   keys with the frequency put back in its strategy position gives the same first candidate as
   ordering the copies; and the second value in that order is the best copy with a different
   value, the runner-up the rule is read from. Two values never tie: a record (source system
   and id) has one value per attribute.
3. One aggregation per entity collects each attribute's values, sorted (``sort_array``, which
   is code-generated, unlike ``array_sort`` and other lambda functions): the winner is the
   first element, the runner-up the second. Each record also adds one placeholder row, so an
   entity whose attributes are all null still gets its row (of nulls) without another join.
"""

from __future__ import annotations

import functools
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.survive.config import AttributeRule, EntitySurvivorship, Strategy

_FAR = 1e18  # sorts after every real key (missing dates, unlisted sources)


def _strategy_key(strategy: Strategy, rule: AttributeRule, spec: EntitySurvivorship) -> Column:
    """The ascending sort key (lower wins) of one strategy over one record, as a double.

    ``most_frequent`` is not a property of a record: it is 0 here and set per value later.
    """
    if strategy is Strategy.SOURCE_PRIORITY:
        order = rule.priority or spec.priority
        key: Column = F.lit(float(len(order)))
        for i, source in reversed(list(enumerate(order))):
            key = F.when(F.col("source_system") == source, F.lit(float(i))).otherwise(key)
        return key
    if strategy is Strategy.MOST_RECENT:
        return F.coalesce(-F.unix_micros(F.col("as_of")).cast("double"), F.lit(_FAR))
    if strategy is Strategy.MOST_COMPLETE:
        return -F.col("_completeness").cast("double")
    if strategy is Strategy.MOST_FREQUENT:
        return F.lit(0.0)
    if strategy is Strategy.PROVIDER_TRUST:
        return -F.col("_trust")
    raise ValueError(f"unknown strategy {strategy!r}")  # programming error


def _trust(spec: EntitySurvivorship) -> Column:
    trust: Column = F.lit(0.5)
    for source, value in sorted(spec.trust_of().items()):
        trust = F.when(F.col("source_system") == source, F.lit(value)).otherwise(trust)
    # Confidence arrives as 0..1 or 0..100 depending on the provider.
    conf = F.col("confidence")
    conf = F.when(conf > 1, conf / 100).otherwise(conf)
    return trust * F.coalesce(conf, F.lit(1.0))


def _by_entity(records: DataFrame, key: str, attrs: list[str]) -> DataFrame:
    """``records``' ranking inputs, hash-partitioned by ``key`` (the one shuffle)."""
    return records.select(
        key,
        "source_system",
        "source_id",
        F.col("as_of").cast("timestamp").alias("as_of"),
        "confidence",
        *attrs,
    ).repartition(key)


def _ranked_values(records: DataFrame, spec: EntitySurvivorship, key: str) -> DataFrame:
    """One row per (``key``, attribute index ``idx``, ``value``) with ``_value``: the value
    (as a string) with its keys ``k0``.. (the strategies' keys, frequency included), the
    lineage of its best copy (``source``, ``source_id``, ``as_of``) and its ``n`` copies;
    ordering the ``_value`` structs ranks the candidates of each attribute.

    Rows of the first attribute are kept when it is null (``_value`` null), so that every
    entity has at least one row, even when all its attributes are null.
    """
    rules = spec.attributes
    attrs = [a.name for a in rules]
    depth = max(len(a.strategies) for a in rules)
    completeness = sum(
        (F.when(F.col(a).isNotNull(), F.lit(1)).otherwise(F.lit(0)) for a in attrs), F.lit(0)
    )
    base = _by_entity(records, key, attrs).select(
        key,
        "source_system",
        "source_id",
        "as_of",
        completeness.alias("_completeness"),
        _trust(spec).alias("_trust"),
        *attrs,
    )

    def candidate(idx: int, a: AttributeRule) -> Column:
        keys = [_strategy_key(s, a, spec) for s in a.strategies]
        keys += [F.lit(0.0)] * (depth - len(keys))
        return F.struct(
            F.lit(idx).alias("idx"),
            F.col(a.name).cast("string").alias("value"),
            *[F.coalesce(k, F.lit(0.0)).alias(f"k{j}") for j, k in enumerate(keys)],
        )

    # inline (a Generate), not unpivot: Expand forgets the child's partitioning, which would
    # cost two more shuffles (by key, attribute and value, then by key again).
    long = base.select(
        key,
        "source_system",
        "source_id",
        "as_of",
        F.inline(F.array(*[candidate(i, a) for i, a in enumerate(rules)])),
    ).where(F.col("value").isNotNull() | (F.col("idx") == 0))
    n = F.count(F.lit(1))
    best = F.min(F.struct(*[f"k{j}" for j in range(depth)], "source_system", "source_id", "as_of"))
    keys = []
    for j in range(depth):
        frequent = [i for i, a in enumerate(rules) if a.strategies[j:j + 1] == (Strategy.MOST_FREQUENT,)]  # fmt: skip
        k = best[f"k{j}"]
        if frequent:
            k = F.when(F.col("idx").isin(frequent), -n.cast("double")).otherwise(k)
        keys.append(k.alias(f"k{j}"))
    # Built in the aggregation's (generated) result projection: as collect_list's argument
    # below it would be evaluated interpreted, row by row.
    value = F.when(
        F.col("value").isNotNull(),
        F.struct(
            "idx",
            *keys,
            best["source_system"].alias("source"),
            best["source_id"].alias("source_id"),
            "value",
            best["as_of"].alias("as_of"),
            n.alias("n"),
        ),
    )
    return long.groupBy(key, "idx", "value").agg(value.alias("_value"))


def survive(records: DataFrame, spec: EntitySurvivorship, key: str) -> DataFrame:
    """One golden row per ``key`` with each declared attribute and its lineage columns.

    Types of the attribute columns are those of ``records``. An attribute with no non-null
    candidate is null, and so is its lineage.
    """
    types = {f.name: f.dataType for f in records.schema.fields}
    rules = spec.attributes
    # All attributes in one sorted list (by attribute, then rank): one collect_list per entity
    # costs far less than one per attribute. An attribute's winner is its first element, the
    # runner-up the next one if it is of the same attribute.
    entities = (
        _ranked_values(records, spec, key)
        .groupBy(key)
        .agg(F.sort_array(F.collect_list("_value")).alias("_values"))
    )
    # Two projections, not one: a single one over every attribute compiles to a Java method
    # too large for the JIT (over 8000 bytes of bytecode), which then runs interpreted.
    ranked = [F.col(key)]
    for i in range(len(rules)):
        first = F.array_position(F.col("_values.idx"), i).cast("int")
        after = F.try_element_at("_values", first + 1)
        ranked += [
            F.when(first > 0, F.element_at("_values", first)).alias(f"_w{i}"),
            F.when(after["idx"] == i, after).alias(f"_r{i}"),
        ]
    out = [F.col(key)]
    for i, a in enumerate(rules):
        won, runner_up = F.col(f"_w{i}"), F.col(f"_r{i}")
        decided = F.coalesce(
            *[
                F.when(won[f"k{j}"] != runner_up[f"k{j}"], F.lit(s.value))
                for j, s in enumerate(a.strategies)
            ],
            F.lit("tie_break"),
        )
        rule = (
            F.when(won.isNull(), F.lit(None).cast("string"))
            .when(runner_up.isNotNull(), decided)
            .when(won["n"] == 1, F.lit("only_candidate"))
            .otherwise(F.lit("unanimous"))
        )
        out += [
            won["value"].cast(types[a.name]).alias(a.name),
            won["source"].alias(f"{a.name}_source"),
            won["source_id"].alias(f"{a.name}_source_id"),
            won["as_of"].alias(f"{a.name}_as_of"),
            rule.alias(f"{a.name}_rule"),
        ]
    return entities.select(*ranked).select(*out)


def conflicts(
    records: DataFrame, golden: DataFrame, spec: EntitySurvivorship, key: str
) -> DataFrame:
    """Attributes (``conflicts: true``) whose candidates disagree beyond their tolerance.

    One row per (``key``, attribute): the golden value and its source, ``spread`` (relative
    max-min over the golden value, numbers only), the number of distinct values, and every
    candidate (source, source id, value, as of), sorted so the row is deterministic.

    Over records shuffled by entity (as in :func:`survive`), one aggregation per entity
    collects each conflict attribute's sorted candidates; the figures are read off those
    arrays (distinct values, distinct sources, min and max as numbers), so no distinct
    aggregation (an Expand and two more shuffles) is needed. Only entities with an attribute
    from two sources or more meet the golden values, joined on the entity alone, and only
    then is an entity split into one row per attribute.
    """
    rules = [a for a in spec.attributes if a.conflicts]
    if not rules:
        raise ValueError("no attribute is declared with conflicts: true")
    copies = []
    for i, a in enumerate(rules):
        value = F.col(a.name).cast("string")
        copy = F.struct(
            F.col("source_system").alias("source"), "source_id", value.alias("value"), "as_of"
        )
        # Computed here, in generated code: as collect_list's argument it would be evaluated
        # interpreted, row by row.
        copies.append(F.when(value.isNotNull(), copy).alias(f"_copy{i}"))
    per_entity = (
        _by_entity(records, key, [a.name for a in rules])
        .select(key, *copies)
        .groupBy(key)
        .agg(
            *[F.sort_array(F.collect_list(f"_copy{i}")).alias(f"_c{i}") for i in range(len(rules))]
        )
    )
    figures = [F.col(key)]
    for i in range(len(rules)):
        candidates = F.col(f"_c{i}")
        numbers = candidates["value"].try_cast("array<double>")
        # Sorted by source first, so a null source (not counted, as by count(distinct)) is first.
        null_source = F.coalesce(
            F.try_element_at(candidates, F.lit(1))["source"].isNull() & (F.size(candidates) > 0),
            F.lit(False),
        )
        figures += [
            candidates.alias(f"_candidates{i}"),
            F.size(F.array_distinct(candidates["value"])).cast("long").alias(f"_distinct{i}"),
            (
                F.size(F.array_distinct(candidates["source"]))
                - F.when(null_source, F.lit(1)).otherwise(F.lit(0))
            ).alias(f"_sources{i}"),
            F.array_min(numbers).alias(f"_min{i}"),
            F.array_max(numbers).alias(f"_max{i}"),
        ]
    several = [F.col(f"_sources{i}") >= 2 for i in range(len(rules))]
    gold = golden.select(
        F.col(key).alias("_key"),
        *[F.col(a.name).cast("string").alias(f"_golden{i}") for i, a in enumerate(rules)],
        *[F.col(f"{a.name}_source").alias(f"_golden_source{i}") for i, a in enumerate(rules)],
    )
    joined = (
        per_entity.select(*figures)
        .where(functools.reduce(operator.or_, several))
        .join(gold, F.col(key) == F.col("_key"))
    )
    per_attribute = []
    for i, a in enumerate(rules):
        golden_num = F.abs(F.col(f"_golden{i}").try_cast("double"))
        low, high = F.col(f"_min{i}"), F.col(f"_max{i}")
        spread = F.when(low.isNotNull() & (golden_num > 0), (high - low) / golden_num)
        tol = F.lit(a.tolerance).cast("double")
        disagree = F.when(tol.isNotNull() & spread.isNotNull(), spread > tol).otherwise(
            F.col(f"_distinct{i}") > 1
        )
        per_attribute.append(
            F.struct(
                (several[i] & disagree).alias("_keep"),
                F.lit(a.name).alias("attribute"),
                F.col(f"_golden{i}").alias("golden_value"),
                F.col(f"_golden_source{i}").alias("golden_source"),
                F.round(spread, 4).alias("spread"),
                F.col(f"_distinct{i}").alias("distinct_values"),
                F.col(f"_candidates{i}").alias("candidates"),
            )
        )
    columns = ["attribute", "golden_value", "golden_source", "spread", "distinct_values"]
    return (
        joined.select(key, F.explode(F.array(*per_attribute)).alias("c"))
        .where(F.col("c._keep"))
        .select(key, *[f"c.{c}" for c in (*columns, "candidates")])
    )
