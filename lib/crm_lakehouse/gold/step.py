"""The Gold step: refresh the analyst-facing tables from what changed in Silver.

Tables, in the order they are refreshed (``gold.data_quality`` last, so it scores the other
Gold tables' validations of the same run): :data:`SPECS`. Each goes through
:func:`~crm_lakehouse.gold.refresh.refresh_table` and the storage port the step is given, so
every write is checked against ``contracts/gold/<table>.yaml``.

The PII key (:mod:`crm_lakehouse.gold.pii`) and ``conf/rules/gold.yaml`` are loaded, and the
opportunity currencies checked against the rules, before anything is written: a missing key or
rate stops the step with a :class:`~crm_lakehouse.errors.ConfigError` and no Gold table moves.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from crm_lakehouse.gold import (
    account_360,
    data_quality,
    enrichment_coverage,
    lead_funnel,
    pipeline_summary,
)
from crm_lakehouse.gold.opportunities import check_currencies
from crm_lakehouse.gold.pii import load_pii_key
from crm_lakehouse.gold.refresh import Refreshed, refresh_table
from crm_lakehouse.gold.rules import GoldRules, load_gold_rules
from crm_lakehouse.gold.table import BuildContext, GoldTable, Snapshot
from crm_lakehouse.steps import StepContext, StepOutcome

SPECS: tuple[GoldTable, ...] = (
    account_360.SPEC,
    pipeline_summary.SPEC,
    lead_funnel.SPEC,
    enrichment_coverage.SPEC,
    data_quality.SPEC,
)
TABLES = tuple(s.table for s in SPECS)


def build_context(ctx: StepContext, rules: GoldRules | None = None) -> BuildContext:
    """Rules and PII key, checked before any Gold write."""
    rules = rules or load_gold_rules(ctx.settings.rules_dir / "gold.yaml")
    opportunities = ctx.location(pipeline_summary.OPPORTUNITIES)
    if ctx.port.exists(opportunities):
        check_currencies(ctx.port.read(opportunities), rules)
    return BuildContext(
        rules=rules, pii_key=load_pii_key(), resolution_rules_dir=ctx.settings.rules_dir
    )


def run(ctx: StepContext, full_refresh: bool | None = None) -> StepOutcome:
    """Refresh every Gold table; ``full_refresh`` (default: ``ctx.full_refresh``) rebuilds
    each one from the current Silver instead of applying what changed."""
    full = ctx.full_refresh if full_refresh is None else full_refresh
    bctx = build_context(ctx)
    outcome = StepOutcome()
    for spec in SPECS:
        done = refresh_table(ctx, spec, bctx, full_refresh=full)
        _account(outcome, done)
    return outcome


def _account(outcome: StepOutcome, done: Refreshed) -> None:
    t = done.table
    outcome.metrics[f"{t}.mode"] = done.mode
    outcome.metrics[f"{t}.skipped"] = done.mode in ("unchanged", "skipped")
    if done.reason:
        outcome.metrics[f"{t}.reason"] = done.reason
    if done.version is not None:
        outcome.table_versions[t] = done.version
    outcome.rows_in += done.keys_written
    outcome.rows_out += done.rows_written


def build_all(ctx: StepContext, bctx: BuildContext | None = None) -> dict[str, DataFrame]:
    """Every Gold table computed in full from the current Silver, without writing (what a full
    refresh would publish; tests compare it with the incrementally maintained tables)."""
    bctx = bctx or build_context(ctx)
    out: dict[str, DataFrame] = {}
    tables = ctx.lake.tables()
    for spec in SPECS:
        names = list(spec.inputs)
        if spec.dynamic_inputs is not None:
            names += list(spec.dynamic_inputs(tables))
        frames = {
            t: ctx.port.read(ctx.location(t)) if ctx.port.exists(ctx.location(t)) else None
            for t in names
        }
        if any(frames.get(t) is None for t in spec.required):
            continue
        out[spec.table] = spec.build(Snapshot(frames, ctx.date), bctx)
    return out


__all__ = ["SPECS", "TABLES", "build_all", "build_context", "run"]
