"""The Silver step: promote the day's Bronze rows into the typed Silver record tables, then
resolve them into golden companies and people (see :mod:`crm_lakehouse.silver.resolution`)."""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.checkpoint import checkpoint
from crm_lakehouse.delta._common import in_predicate
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


SMALL_BATCH_ROWS = 200_000
"""A record batch up to this size is broadcast to find its stored rows (see
:func:`keep_first_seen`): a nightly delta then reads the record table without shuffling it."""


def keep_first_seen(
    existing: DataFrame | None, batch: DataFrame, *, small_batch: bool = False
) -> DataFrame:
    """The batch with each record's stored ``first_seen`` (the earlier of stored and new).

    ``small_batch``: the batch is small enough to broadcast, so only the stored rows of its
    keys are looked up (a broadcast join against a scan of the table, no shuffle of it).
    """
    if existing is None or "first_seen" not in existing.columns:
        return batch
    prev = existing.select(*KEYS, F.col("first_seen").alias("_fs"))
    if small_batch:
        prev = prev.join(F.broadcast(batch.select(*KEYS)), list(KEYS))
    return (
        batch.join(prev, list(KEYS), "left")
        .withColumn("first_seen", F.least(F.col("_fs"), F.col("first_seen")))
        .select(*batch.columns)
    )


def merge_records(ctx: StepContext, outcome: StepOutcome) -> None:
    """Merge the day's Bronze rows into each Silver record table.

    The first load of a table (no stored rows) is an append: the batch's keys are unique
    (:func:`latest_per_key`), so a merge into the empty table would insert exactly the same
    rows, at the cost of a second pass over them.
    """
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
        batch = latest_per_key(reduce(lambda a, b: a.unionByName(b), frames), KEYS).persist()
        cached = [batch]
        try:
            rows = batch.count()
            existing = ctx.port.read(location) if ctx.port.exists(location) else None
            if existing is not None and existing.isEmpty():
                existing = None
            if existing is not None:
                batch = keep_first_seen(
                    existing, batch, small_batch=rows <= SMALL_BATCH_ROWS
                ).persist()
                cached.append(batch)
            ctx.port.create(location, batch.schema, description=f"{table}: typed source records")
            if not rows:
                outcome.table_versions[table] = ctx.port.version(location)
            else:
                if existing is None:
                    result = ctx.port.append(location, batch, txn=txn)
                else:
                    result = ctx.port.merge(
                        location, batch, keys=KEYS, update_condition=REFUSE_OLDER, txn=txn
                    )
                outcome.table_versions[table] = result.version
                outcome.metrics[f"{table}.skipped"] = result.skipped
            outcome.rows_out += rows
        finally:
            for df in cached:
                df.unpersist()


def _read(ctx: StepContext, table: str) -> DataFrame | None:
    loc = ctx.location(table)
    return ctx.port.read(loc) if ctx.port.exists(loc) else None


MAX_SCOPE_IDS = 50_000
"""An incremental night replaces the rows of its golden ids with one predicate write
(``<id> IN (...)``); above this many ids the whole table is written instead."""


def _publish(
    ctx: StepContext,
    outcome: StepOutcome,
    table: str,
    df: DataFrame,
    txn: Txn,
    scope: RES.Scope | None,
    id_column: str,
    n_scope: int,
) -> None:
    """Write ``df``: the whole table, or on an incremental night the rows of the scope's ids
    (each id's rows replaced in one commit; ids no longer present disappear)."""
    loc = ctx.location(table)
    ctx.port.create(loc, df.schema, description=GOLDEN_DESCRIPTIONS[table])
    predicate = None
    if scope is not None:
        ids = sorted(r["id"] for r in scope.ids.collect())
        predicate = in_predicate(id_column, ids)
    result = ctx.port.overwrite(loc, df, predicate=predicate, txn=txn)
    outcome.table_versions[table] = result.version
    outcome.metrics[f"{table}.skipped"] = result.skipped
    outcome.metrics[f"{table}.replaced_ids"] = n_scope if scope is not None else None


def _record_merges(
    ctx: StepContext,
    outcome: StepOutcome,
    table: str,
    previous: DataFrame | None,
    current: DataFrame,
    id_column: str,
    txn: Txn,
    scope: RES.Scope | None,
) -> None:
    loc = ctx.location(table)
    empty = current.sparkSession.createDataFrame(
        [], "merged_id string, merged_into string, merged_on date, records long"
    )
    ctx.port.create(loc, empty.schema, description=f"{table}: golden ids merged into another")
    if previous is None:
        return
    if scope is not None:  # ids outside the scope did not move
        previous = previous.join(
            F.broadcast(scope.ids.withColumnRenamed("id", id_column)), id_column
        )
    merges = RES.merged_ids(previous, current, id_column, ctx.date).persist()
    try:
        n = merges.count()
        outcome.metrics[f"{table}.new"] = n
        if n:
            result = ctx.port.merge(loc, merges, keys=("merged_id",), txn=txn)
            outcome.table_versions[table] = result.version
    finally:
        merges.unpersist()


def _previous(ctx: StepContext) -> RES.Previous | None:
    """The published golden tables to resolve incrementally from (None on a full refresh)."""
    if ctx.full_refresh:
        return None
    return RES.Previous(
        company_xref=_read(ctx, RES.COMPANY_XREF),
        companies=_read(ctx, RES.COMPANIES),
        person_xref=_read(ctx, RES.PERSON_XREF),
        people=_read(ctx, RES.PEOPLE),
    )


def publish_golden(ctx: StepContext, outcome: StepOutcome, rules: RES.ResolutionRules) -> None:
    """Resolve and publish the golden tables when the record tables changed.

    Only the region of records the night's changes affect is resolved again when the
    previous golden tables allow it (:mod:`crm_lakehouse.silver.resolution`), and only the
    rows of its golden ids are replaced; otherwise everything is recomputed and rewritten.
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
    accounts: DataFrame | None = None
    if not done:
        previous = _previous(ctx)
        previous_companies = _read(ctx, RES.COMPANY_XREF)
        previous_people = _read(ctx, RES.PERSON_XREF)
        cached: list[DataFrame] = []
        if previous_companies is not None:
            previous_companies = previous_companies.select("source_system", "source_id", "company_id").transform(checkpoint)  # fmt: skip
        if previous_people is not None:
            previous_people = previous_people.select("source_system", "source_id", "person_id").transform(checkpoint)  # fmt: skip
        golden = RES.resolve_all(
            _read(ctx, RES.COMPANY_RECORDS),
            _read(ctx, RES.FIRMOGRAPHICS),
            _read(ctx, RES.PERSON_RECORDS),
            rules,
            previous,
        )
        c = golden.companies
        if c.scope is not None:
            accounts = c.xref.where(F.col("source_system") == "salesforce").select("source_id")
            accounts = accounts.transform(checkpoint)
        frames: dict[str, tuple[DataFrame, RES.Scope | None, str]] = {
            RES.COMPANIES: (c.companies, c.scope, "company_id"),
            RES.COMPANY_XREF: (c.xref, c.scope, "company_id"),
            RES.PROVIDER_CONFLICTS: (c.conflicts, c.scope, "company_id"),
        }
        if golden.people is not None:
            p = golden.people
            frames[RES.PEOPLE] = (p.people, p.scope, "person_id")
            frames[RES.PERSON_XREF] = (p.xref, p.scope, "person_id")
        sizes = {
            id(scope): scope.ids.count() for _, scope, _ in frames.values() if scope is not None
        }
        try:
            for table, (df, scope, id_column) in frames.items():
                df = df.persist()
                cached.append(df)
                if scope is not None and sizes[id(scope)] > MAX_SCOPE_IDS:
                    # Too many ids for one predicate: write the whole table as it now is.
                    df = _whole_table(ctx, table, df, scope, id_column).persist()
                    cached.append(df)
                    scope = None
                _publish(
                    ctx, outcome, table, df, txns[table], scope, id_column, sizes.get(id(scope), 0)
                )
            metrics: dict[str, Any] = RES.with_metrics(golden)
            outcome.metrics.update(metrics)
            _record_merges(
                ctx, outcome, RES.COMPANY_MERGES, previous_companies,
                frames[RES.COMPANY_XREF][0], "company_id", txns[RES.COMPANY_MERGES], c.scope,
            )  # fmt: skip
            if golden.people is not None:
                _record_merges(
                    ctx, outcome, RES.PERSON_MERGES, previous_people,
                    frames[RES.PERSON_XREF][0], "person_id", txns[RES.PERSON_MERGES],
                    golden.people.scope,
                )  # fmt: skip
        finally:
            for df in cached:
                df.unpersist()
    else:
        for t in GOLDEN_DESCRIPTIONS:
            if port.exists(ctx.location(t)):
                outcome.table_versions[t] = port.version(ctx.location(t))
                outcome.metrics[f"{t}.skipped"] = True
    link_opportunity_companies(ctx, outcome, accounts)


def _whole_table(
    ctx: StepContext, table: str, rows: DataFrame, scope: RES.Scope, id_column: str
) -> DataFrame:
    """The stored table with the scope's ids replaced by ``rows``."""
    stored = _read(ctx, table)
    if stored is None:
        return rows
    kept = stored.join(
        F.broadcast(scope.ids.withColumnRenamed("id", id_column)), id_column, "left_anti"
    )
    return kept.unionByName(rows)


def link_opportunity_companies(
    ctx: StepContext, outcome: StepOutcome, accounts: DataFrame | None = None
) -> None:
    """Set ``company_id`` on opportunities whose golden company changed (or was unset).

    ``accounts``: on an incremental night, the Salesforce account ids (``source_id``) whose
    company may have changed; only their opportunities and those without a company (new or
    updated ones) are looked at. Only changed rows are merged, so when nothing changed (a
    rerun) nothing is written.
    """
    opps = _read(ctx, RES.OPPORTUNITIES)
    xref = _read(ctx, RES.COMPANY_XREF)
    if opps is None or xref is None or "company_id" not in opps.columns:
        return
    inputs = {
        RES.COMPANY_XREF: ctx.port.version(ctx.location(RES.COMPANY_XREF)),
        RES.OPPORTUNITIES: ctx.port.version(ctx.location(RES.OPPORTUNITIES)),
    }
    if accounts is not None:
        moved = opps.join(
            F.broadcast(accounts.select(F.col("source_id").alias("company_source_id"))),
            "company_source_id",
            "left_semi",
        )
        opps = opps.where(F.col("company_id").isNull()).unionByName(
            moved.where(F.col("company_id").isNotNull())
        )
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
