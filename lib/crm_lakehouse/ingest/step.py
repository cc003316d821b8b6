"""The Bronze step: ingest the landing files delivered for the logical date."""

from __future__ import annotations

from crm_lakehouse.ingest.bronze import ingest
from crm_lakehouse.steps import StepContext, StepOutcome


def run(ctx: StepContext) -> StepOutcome:
    report = ingest(ctx.spark, ctx.port, ctx.lake, ctx.settings.paths.landing, ctx.date, ctx.run_id)
    duplicates = [f for f in report.files if f.duplicate_of]
    return StepOutcome(
        rows_in=report.rows_read,
        rows_out=report.rows_appended,
        table_versions=dict(report.table_versions),
        metrics={
            "files": len(report.files),
            "duplicate_files": len(duplicates),
            "malformed_rows": sum(f.malformed for f in report.files),
            "bad_encoding_rows": sum(f.bad_encoding for f in report.files),
            "files_with_extra_columns": sorted(
                str(f.file.path.name) for f in report.files if f.extra_columns
            ),
        },
    )
