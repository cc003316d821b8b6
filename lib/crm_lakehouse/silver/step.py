"""The Silver step: promote the day's Bronze rows into the typed Silver record tables."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.silver.records import KEYS, REFUSE_OLDER, SILVER_SOURCES, latest_per_key
from crm_lakehouse.steps import StepContext, StepOutcome


def run(ctx: StepContext) -> StepOutcome:
    """Merge each Silver table from the Bronze rows delivered on ``ctx.date``.

    Malformed Bronze rows are counted as dropped (they remain in Bronze). The merge refuses
    older data, so a late-arriving stale update never overwrites a newer record.
    """
    outcome = StepOutcome()
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
        batch = latest_per_key(reduce(lambda a, b: a.unionByName(b), frames), KEYS).persist()
        try:
            rows = batch.count()
            location = ctx.location(table)
            ctx.port.create(location, batch.schema, description=f"{table}: typed source records")
            if rows:
                result = ctx.port.merge(
                    location,
                    batch,
                    keys=KEYS,
                    update_condition=REFUSE_OLDER,
                    txn=ctx.input_txn("silver", table, inputs),
                )
                outcome.table_versions[table] = result.version
                outcome.metrics[f"{table}.skipped"] = result.skipped
            else:
                outcome.table_versions[table] = ctx.port.version(location)
            outcome.rows_out += rows
        finally:
            batch.unpersist()
    return outcome
