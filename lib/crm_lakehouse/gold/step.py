"""The Gold step: rebuild the analyst-facing aggregates from Silver."""

from __future__ import annotations

from crm_lakehouse.gold.pipeline_summary import TABLE as PIPELINE_SUMMARY
from crm_lakehouse.gold.pipeline_summary import pipeline_summary
from crm_lakehouse.steps import StepContext, StepOutcome

OPPORTUNITIES = "silver.opportunities"


def run(ctx: StepContext) -> StepOutcome:
    outcome = StepOutcome()
    src = ctx.location(OPPORTUNITIES)
    if not ctx.port.exists(src):
        return outcome
    version = ctx.port.version(src)
    opportunities = ctx.port.read(src)
    summary = pipeline_summary(opportunities).persist()
    try:
        outcome.rows_in = opportunities.count()
        outcome.rows_out = summary.count()
        location = ctx.location(PIPELINE_SUMMARY)
        ctx.port.create(location, summary.schema, description="Pipeline by stage and close month")
        result = ctx.port.overwrite(
            location, summary, txn=ctx.input_txn("gold", PIPELINE_SUMMARY, {OPPORTUNITIES: version})
        )
        outcome.table_versions[PIPELINE_SUMMARY] = result.version
        outcome.metrics[f"{PIPELINE_SUMMARY}.skipped"] = result.skipped
    finally:
        summary.unpersist()
    return outcome
