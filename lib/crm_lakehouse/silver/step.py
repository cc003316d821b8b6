"""The Silver step: promote the day's Bronze rows into the typed Silver record tables, then
resolve them into golden companies and people (see :mod:`crm_lakehouse.silver.resolution`)."""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.delta.port import Txn
from crm_lakehouse.silver import resolution as RES
from crm_lakehouse.silver.records import KEYS, REFUSE_OLDER, SILVER_SOURCES, latest_per_key
from crm_lakehouse.steps import StepContext, StepOutcome

GOLDEN_DESCRIPTIONS = {
    RES.COMPANIES: "silver.companies: golden companies with survivorship lineage",
    RES.COMPANY_XREF: "silver.company_xref: source company record -> golden company",
    RES.PROVIDER_CONFLICTS: "silver.provider_conflicts: attributes whose sources disagree",
    RES.PEOPLE: "silver.people: golden people (contacts and leads) with lineage",
    RES.PERSON_XREF: "silver.person_xref: source person record -> golden person",
}


def run(ctx: StepContext) -> StepOutcome:
    """Merge each Silver record table from the Bronze rows delivered on ``ctx.date``, then
    rebuild the golden tables from the record tables.

    Malformed Bronze rows are counted as dropped (they remain in Bronze). The merge refuses
    older data, so a late-arriving stale update never overwrites a newer record.
    """
    outcome = StepOutcome()
    merge_records(ctx, outcome)
    publish_golden(ctx, outcome, RES.load_rules(ctx.settings.rules_dir))
    return outcome


def keep_first_seen(existing: DataFrame | None, batch: DataFrame) -> DataFrame:
    """The batch with each record's stored ``first_seen`` (the earlier of stored and new)."""
    if existing is None or "first_seen" not in existing.columns:
        return batch
    prev = existing.select(*KEYS, F.col("first_seen").alias("_fs"))
    return (
        batch.join(prev, list(KEYS), "left")
        .withColumn("first_seen", F.least(F.col("_fs"), F.col("first_seen")))
        .select(*batch.columns)
    )


def merge_records(ctx: StepContext, outcome: StepOutcome) -> None:
    for table, feeds in SILVER_SOURCES.items():
        frames: list[DataFrame] = []
        inputs: dict[str, int] = {}
        for bronze_table, standardise in feeds:
            loc = ctx.location(bronze_table)
            if not ctx.port.exists(loc):
                continue
            inputs[bronze_table] = ctx.port.version(loc)
            day = ctx.port.read(loc).where(F.col("_delivery_date") == ctx.date)
            counts = day.agg(
                F.count(F.lit(1)).alias("rows"), F.count("_corrupt_record").alias("bad")
            ).first()
            assert counts is not None
            outcome.rows_in += counts["rows"]
            outcome.rows_dropped += counts["bad"]
            frames.append(standardise(day))
        if not frames:
            continue
        location = ctx.location(table)
        txn = ctx.input_txn("silver", table, inputs)
        if ctx.port.already_written(location, txn):
            outcome.table_versions[table] = ctx.port.version(location)
            outcome.metrics[f"{table}.skipped"] = True
            continue
        batch = latest_per_key(reduce(lambda a, b: a.unionByName(b), frames), KEYS)
        existing = ctx.port.read(location) if ctx.port.exists(location) else None
        batch = keep_first_seen(existing, batch).persist()
        try:
            rows = batch.count()
            ctx.port.create(location, batch.schema, description=f"{table}: typed source records")
            if rows:
                result = ctx.port.merge(
                    location, batch, keys=KEYS, update_condition=REFUSE_OLDER, txn=txn
                )
                outcome.table_versions[table] = result.version
                outcome.metrics[f"{table}.skipped"] = result.skipped
            else:
                outcome.table_versions[table] = ctx.port.version(location)
            outcome.rows_out += rows
        finally:
            batch.unpersist()


def _read(ctx: StepContext, table: str) -> DataFrame | None:
    loc = ctx.location(table)
    return ctx.port.read(loc) if ctx.port.exists(loc) else None


def _overwrite(ctx: StepContext, outcome: StepOutcome, table: str, df: DataFrame, txn: Txn) -> None:
    loc = ctx.location(table)
    ctx.port.create(loc, df.schema, description=GOLDEN_DESCRIPTIONS[table])
    result = ctx.port.overwrite(loc, df, txn=txn)
    outcome.table_versions[table] = result.version
    outcome.metrics[f"{table}.skipped"] = result.skipped


def _record_merges(
    ctx: StepContext,
    outcome: StepOutcome,
    table: str,
    previous: DataFrame | None,
    current: DataFrame,
    id_column: str,
    txn: Txn,
) -> None:
    loc = ctx.location(table)
    empty = current.sparkSession.createDataFrame(
        [], "merged_id string, merged_into string, merged_on date, records long"
    )
    ctx.port.create(loc, empty.schema, description=f"{table}: golden ids merged into another")
    if previous is None:
        return
    merges = RES.merged_ids(previous, current, id_column, ctx.date).persist()
    try:
        n = merges.count()
        outcome.metrics[f"{table}.new"] = n
        if n:
            result = ctx.port.merge(loc, merges, keys=("merged_id",), txn=txn)
            outcome.table_versions[table] = result.version
    finally:
        merges.unpersist()


def publish_golden(ctx: StepContext, outcome: StepOutcome, rules: RES.ResolutionRules) -> None:
    """Recompute and publish the golden tables when the record tables changed.

    Every golden table is written with a transaction derived from the record tables'
    versions, so a rerun of a date (record merges skipped, versions unchanged) writes nothing.
    """
    port = ctx.port
    inputs = {
        t: port.version(ctx.location(t))
        for t in (RES.COMPANY_RECORDS, RES.FIRMOGRAPHICS, RES.PERSON_RECORDS)
        if port.exists(ctx.location(t))
    }
    if RES.COMPANY_RECORDS not in inputs and RES.FIRMOGRAPHICS not in inputs:
        return
    txns = {t: ctx.input_txn("silver", t, inputs) for t in GOLDEN_DESCRIPTIONS}
    txns[RES.COMPANY_MERGES] = ctx.input_txn("silver", RES.COMPANY_MERGES, inputs)
    txns[RES.PERSON_MERGES] = ctx.input_txn("silver", RES.PERSON_MERGES, inputs)
    done = all(port.already_written(ctx.location(t), txn) for t, txn in txns.items() if t in GOLDEN_DESCRIPTIONS)  # fmt: skip
    if not done:
        previous_companies = _read(ctx, RES.COMPANY_XREF)
        previous_people = _read(ctx, RES.PERSON_XREF)
        cached: list[DataFrame] = []
        if previous_companies is not None:
            previous_companies = previous_companies.select("source_system", "source_id", "company_id").localCheckpoint()  # fmt: skip
        if previous_people is not None:
            previous_people = previous_people.select("source_system", "source_id", "person_id").localCheckpoint()  # fmt: skip
        golden = RES.resolve_all(
            _read(ctx, RES.COMPANY_RECORDS),
            _read(ctx, RES.FIRMOGRAPHICS),
            _read(ctx, RES.PERSON_RECORDS),
            rules,
        )
        frames: dict[str, DataFrame] = {
            RES.COMPANIES: golden.companies.companies,
            RES.COMPANY_XREF: golden.companies.xref,
            RES.PROVIDER_CONFLICTS: golden.companies.conflicts,
        }
        if golden.people is not None:
            frames[RES.PEOPLE] = golden.people.people
            frames[RES.PERSON_XREF] = golden.people.xref
        try:
            for table, df in frames.items():
                df = df.persist()
                cached.append(df)
                _overwrite(ctx, outcome, table, df, txns[table])
            metrics: dict[str, Any] = RES.with_metrics(golden)
            outcome.metrics.update(metrics)
            _record_merges(
                ctx, outcome, RES.COMPANY_MERGES, previous_companies,
                frames[RES.COMPANY_XREF], "company_id", txns[RES.COMPANY_MERGES],
            )  # fmt: skip
            if RES.PERSON_XREF in frames:
                _record_merges(
                    ctx, outcome, RES.PERSON_MERGES, previous_people,
                    frames[RES.PERSON_XREF], "person_id", txns[RES.PERSON_MERGES],
                )  # fmt: skip
        finally:
            for df in cached:
                df.unpersist()
    else:
        for t in GOLDEN_DESCRIPTIONS:
            if port.exists(ctx.location(t)):
                outcome.table_versions[t] = port.version(ctx.location(t))
                outcome.metrics[f"{t}.skipped"] = True
    link_opportunity_companies(ctx, outcome)


def link_opportunity_companies(ctx: StepContext, outcome: StepOutcome) -> None:
    """Set ``company_id`` on opportunities whose golden company changed (or was unset).

    Only changed rows are merged, so when nothing changed (a rerun) nothing is written.
    """
    opps = _read(ctx, RES.OPPORTUNITIES)
    xref = _read(ctx, RES.COMPANY_XREF)
    if opps is None or xref is None or "company_id" not in opps.columns:
        return
    inputs = {
        RES.COMPANY_XREF: ctx.port.version(ctx.location(RES.COMPANY_XREF)),
        RES.OPPORTUNITIES: ctx.port.version(ctx.location(RES.OPPORTUNITIES)),
    }
    old = opps.withColumn("_old", F.col("company_id"))
    linked = RES.link_opportunities(old, xref)
    changed = linked.where(~F.col("company_id").eqNullSafe(F.col("_old"))).drop("_old").persist()
    try:
        n = changed.count()
        outcome.metrics[f"{RES.OPPORTUNITIES}.company_links_changed"] = n
        if n:
            result = ctx.port.merge(
                ctx.location(RES.OPPORTUNITIES),
                changed,
                keys=KEYS,
                insert=False,
                txn=ctx.input_txn("silver", f"{RES.OPPORTUNITIES}:company_id", inputs),
            )
            outcome.table_versions[RES.OPPORTUNITIES] = result.version
    finally:
        changed.unpersist()


def rebuild(ctx: StepContext, rules: RES.ResolutionRules | None = None) -> RES.Golden:
    """Full rebuild: the golden tables recomputed from the record tables alone (no previous
    golden state is read). Returned, not written; it equals what incremental runs published."""
    return RES.resolve_all(
        _read(ctx, RES.COMPANY_RECORDS),
        _read(ctx, RES.FIRMOGRAPHICS),
        _read(ctx, RES.PERSON_RECORDS),
        rules or RES.load_rules(ctx.settings.rules_dir),
    )
