"""Survivorship: one function turns clustered source records into golden values with lineage.

:func:`survive` is the only place survivorship rules are applied. Records are unpivoted into
one row per (entity, attribute, candidate value); a single window per (entity, attribute)
orders candidates by the attribute's strategies from ``conf/rules/survivorship.yaml`` and then by
source system and source id, so the winner never depends on partitioning or input order. The
winner keeps its lineage: ``<attr>_source``, ``<attr>_source_id``, ``<attr>_as_of`` and
``<attr>_rule`` (the strategy that separated its value from the best different value;
``only_candidate``, ``unanimous`` when all candidates agree, or ``tie_break``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from crm_lakehouse.survive.config import AttributeRule, EntitySurvivorship, Strategy

_FAR = 1e18  # sorts after every real key (missing dates, unlisted sources)


def _strategy_key(strategy: Strategy, rule: AttributeRule, spec: EntitySurvivorship) -> Column:
    """The ascending sort key (lower wins) of one strategy, as a double."""
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
        return -F.col("_frequency").cast("double")
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


def candidates(records: DataFrame, spec: EntitySurvivorship, key: str) -> DataFrame:
    """Long form: one row per (``key``, attribute, non-null value) with ranking inputs.

    ``records`` needs ``key``, ``source_system``, ``source_id``, ``as_of`` (timestamp),
    ``confidence`` (double or null) and one column per declared attribute.
    """
    attrs = [a.name for a in spec.attributes]
    completeness = sum(
        (F.when(F.col(a).isNotNull(), F.lit(1)).otherwise(F.lit(0)) for a in attrs), F.lit(0)
    )
    base = records.select(
        key,
        "source_system",
        "source_id",
        F.col("as_of").cast("timestamp").alias("as_of"),
        completeness.alias("_completeness"),
        _trust(spec).alias("_trust"),
        *[F.col(a).cast("string").alias(a) for a in attrs],
    )
    long = base.unpivot(
        [key, "source_system", "source_id", "as_of", "_completeness", "_trust"],
        [F.col(a) for a in attrs],
        "attribute",
        "value",
    ).where(F.col("value").isNotNull())
    return long.withColumn(
        "_frequency", F.count(F.lit(1)).over(Window.partitionBy(key, "attribute", "value"))
    )


def _per_attribute(spec: EntitySurvivorship, pick: dict[str, Column]) -> Column:
    """CASE attribute WHEN a THEN pick[a] END."""
    out: Column | None = None
    for a in spec.attributes:
        if a.name not in pick:
            continue
        cond = F.col("attribute") == a.name
        out = F.when(cond, pick[a.name]) if out is None else out.when(cond, pick[a.name])
    return out if out is not None else F.lit(None)


def survive(records: DataFrame, spec: EntitySurvivorship, key: str) -> DataFrame:
    """One golden row per ``key`` with each declared attribute and its lineage columns.

    Types of the attribute columns are those of ``records``. An attribute with no non-null
    candidate is null, and so is its lineage.
    """
    types = {f.name: f.dataType for f in records.schema.fields}
    long = candidates(records, spec, key)
    depth = max(len(a.strategies) for a in spec.attributes)
    keys = []
    names = []
    for i in range(depth):
        by_attr = {
            a.name: _strategy_key(a.strategies[i], a, spec)
            for a in spec.attributes
            if i < len(a.strategies)
        }
        keys.append(F.coalesce(_per_attribute(spec, by_attr), F.lit(0.0)).alias(f"_k{i}"))
        names.append(
            _per_attribute(
                spec, {a.name: F.lit(a.strategies[i].value) for a in spec.attributes if i < len(a.strategies)}
            ).alias(f"_s{i}")
        )  # fmt: skip
    ranked = long.select("*", *keys, *names)
    w = Window.partitionBy(key, "attribute").orderBy(
        *[F.col(f"_k{i}") for i in range(depth)], F.col("source_system"), F.col("source_id")
    )
    ranked = ranked.withColumn("_rank", F.row_number().over(w)).withColumn(
        "_candidates", F.count(F.lit(1)).over(Window.partitionBy(key, "attribute"))
    )
    top = ranked.where(F.col("_rank") == 1)
    # The runner-up is the best candidate with a *different* value: the rule says why this
    # value won, not why this copy of it did.
    runner = (
        ranked.join(top.select(key, "attribute", F.col("value").alias("_wv")), [key, "attribute"])
        .where(F.col("value") != F.col("_wv"))
        .withColumn("_r2", F.row_number().over(w))
        .where(F.col("_r2") == 1)
        .select(key, "attribute", *[F.col(f"_k{i}").alias(f"_n{i}") for i in range(depth)])
    )
    decided = F.coalesce(
        *[F.when(F.col(f"_k{i}") != F.col(f"_n{i}"), F.col(f"_s{i}")) for i in range(depth)],
        F.lit("tie_break"),
    )
    rule = (
        F.when(F.col("_candidates") == 1, F.lit("only_candidate"))
        .when(F.col("_n0").isNull(), F.lit("unanimous"))
        .otherwise(decided)
    )
    winners = top.join(runner, [key, "attribute"], "left").select(
        key,
        "attribute",
        F.struct(
            F.col("value"),
            F.col("source_system").alias("source"),
            F.col("source_id"),
            F.col("as_of"),
            rule.alias("rule"),
        ).alias("w"),
    )
    attrs = [a.name for a in spec.attributes]
    wide = (
        winners.groupBy(key)
        .pivot("attribute", list[bool | float | int | str](attrs))
        .agg(F.first("w"))
    )
    entities = records.select(key).distinct()
    wide = entities.join(wide, key, "left")
    out = [F.col(key)]
    for a in attrs:
        out += [
            F.col(f"`{a}`.value").cast(types[a]).alias(a),
            F.col(f"`{a}`.source").alias(f"{a}_source"),
            F.col(f"`{a}`.source_id").alias(f"{a}_source_id"),
            F.col(f"`{a}`.as_of").alias(f"{a}_as_of"),
            F.col(f"`{a}`.rule").alias(f"{a}_rule"),
        ]
    return wide.select(*out)


def conflicts(
    records: DataFrame, golden: DataFrame, spec: EntitySurvivorship, key: str
) -> DataFrame:
    """Attributes (``conflicts: true``) whose candidates disagree beyond their tolerance.

    One row per (``key``, attribute): the golden value and its source, ``spread`` (relative
    max-min over the golden value, numbers only), the number of distinct values, and every
    candidate (source, source id, value, as of), sorted so the row is deterministic.
    """
    rules = [a for a in spec.attributes if a.conflicts]
    if not rules:
        raise ValueError("no attribute is declared with conflicts: true")
    sub = EntitySurvivorship(spec.priority, spec.trust, tuple(rules))
    long = candidates(records, sub, key)
    grouped = long.groupBy(key, "attribute").agg(
        F.countDistinct("value").alias("distinct_values"),
        F.countDistinct("source_system").alias("sources"),
        F.min(F.col("value").try_cast("double")).alias("_min"),
        F.max(F.col("value").try_cast("double")).alias("_max"),
        F.array_sort(
            F.collect_list(
                F.struct(
                    F.col("source_system").alias("source"),
                    "source_id",
                    "value",
                    "as_of",
                )
            )
        ).alias("candidates"),
    )
    gold = golden.select(
        key,
        F.explode(
            F.array(
                *[
                    F.struct(
                        F.lit(a.name).alias("attribute"),
                        F.col(a.name).cast("string").alias("golden_value"),
                        F.col(f"{a.name}_source").alias("golden_source"),
                    )
                    for a in rules
                ]
            )
        ).alias("g"),
    ).select(key, "g.*")
    tol: Column = F.lit(None).cast("double")
    for a in rules:
        if a.tolerance is not None:
            tol = F.when(F.col("attribute") == a.name, F.lit(a.tolerance)).otherwise(tol)
    golden_num = F.abs(F.col("golden_value").try_cast("double"))
    spread = F.when(
        F.col("_min").isNotNull() & (golden_num > 0), (F.col("_max") - F.col("_min")) / golden_num
    )
    disagree = F.when(tol.isNotNull() & spread.isNotNull(), spread > tol).otherwise(
        F.col("distinct_values") > 1
    )
    return (
        grouped.join(gold, [key, "attribute"])
        .where((F.col("sources") >= 2) & disagree)
        .select(
            key,
            "attribute",
            "golden_value",
            "golden_source",
            F.round(spread, 4).alias("spread"),
            "distinct_values",
            "candidates",
        )
    )
