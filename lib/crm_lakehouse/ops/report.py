"""The HTML report of a run: ``<reports>/runs/<run_id>.html`` and ``<reports>/runs/latest.html``.

One self-contained page per run, for the on-call engineer who opens it the next morning: the
outcome, each step's timing and row counts, how rows flowed Bronze -> Silver -> Gold, what was
quarantined, how fresh each table is, and data quality for this run and the last runs. Charts
are inline SVG generated here (no JavaScript, no CDN: the machines are offline), and every
value comes from the lake itself (``ops.runs``, ``ops.dq_results``, quarantine tables and Delta
logs, read with delta-rs by :mod:`crm_lakehouse.ops.status`), so a report can be rebuilt for
any past run with :func:`write_run_report`.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

from crm_lakehouse.lake import Lake
from crm_lakehouse.ops.ledger import StepRecord, StepStatus
from crm_lakehouse.ops.status import (
    DQ_RESULTS,
    STEP_MARK,
    DqOutcome,
    DqRunTotals,
    RunSummary,
    dq_outcomes,
    dq_trend,
    format_age,
    format_when,
    read_rows,
    read_runs,
    summarise_runs,
    validations,
)

TREND_RUNS = 20
REPORT_DIR = "runs"
LATEST = "latest.html"

# One colour per meaning, used by every chart and badge.
COLOURS = {
    "in": "#7a8ba6",
    "out": "#2f7d4f",
    "dropped": "#c98a12",
    "quarantined": "#b3541e",
    "pass": "#2f7d4f",
    "warn": "#c98a12",
    "drop": "#d9a441",
    "quarantine": "#b3541e",
    "fail": "#b3261e",
    StepStatus.SUCCEEDED.value: "#2f7d4f",
    StepStatus.SKIPPED.value: "#8a94a6",
    StepStatus.FAILED.value: "#b3261e",
    StepStatus.RUNNING.value: "#3f6fb5",
    StepStatus.ABANDONED.value: "#6b3fa0",
}

Segment = tuple[float, str, str]  # value, colour key, tooltip


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


# ---------------------------------------------------------------------- SVG charts


def hbar_chart(
    rows: Sequence[tuple[str, Sequence[Segment]]],
    *,
    offsets: Sequence[float] | None = None,
    unit: str = "",
    width: int = 720,
    label_width: int = 170,
) -> str:
    """Horizontal bars, one per row, each a stack of segments; ``offsets`` shift each bar's
    start (a Gantt chart of step timings). Values are labelled at the end of each bar."""
    bar, gap, value_room = 18, 8, 90
    plot = width - label_width - value_room
    ends = [
        (offsets[i] if offsets else 0.0) + sum(v for v, _, _ in segs)
        for i, (_, segs) in enumerate(rows)
    ]
    scale = plot / max([*ends, 1e-9])
    height = len(rows) * (bar + gap) + gap
    out = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="11" font-family="sans-serif" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, segs) in enumerate(rows):
        y = gap + i * (bar + gap)
        x = label_width + (offsets[i] if offsets else 0.0) * scale
        out.append(
            f'<text x="{label_width - 8}" y="{y + bar - 5}" text-anchor="end">{_e(label)}</text>'
        )
        for value, colour, tip in segs:
            w = max(value * scale, 0.0)
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1.0):.1f}" height="{bar}" '
                    f'fill="{COLOURS.get(colour, colour)}"><title>{_e(tip)}</title></rect>'
                )
            x += w
        total = sum(v for v, _, _ in segs)
        shown = f"{total:,.1f}" if isinstance(total, float) and unit else f"{total:,.0f}"
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar - 5}">{shown}{_e(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def column_chart(
    columns: Sequence[tuple[str, Sequence[Segment]]],
    *,
    height: int = 180,
    column_width: int = 26,
    highlight: int | None = None,
) -> str:
    """Vertical stacked columns (one per run), labelled below; ``highlight`` outlines one."""
    gap, top, bottom, left = 10, 12, 56, 56
    plot = height - top - bottom
    peak = max([sum(v for v, _, _ in segs) for _, segs in columns] + [1e-9])
    width = left + len(columns) * (column_width + gap) + gap
    out = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="11" font-family="sans-serif" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak:,.0f}</text>',
        f'<text x="{left - 4}" y="{top + plot}" text-anchor="end">0</text>',
    ]
    for i, (label, segs) in enumerate(columns):
        x = left + gap + i * (column_width + gap)
        y = float(top + plot)
        for value, colour, tip in segs:
            h = value / peak * plot
            if h > 0:
                y -= h
                out.append(
                    f'<rect x="{x}" y="{y:.1f}" width="{column_width}" height="{max(h, 1.0):.1f}" '
                    f'fill="{COLOURS.get(colour, colour)}"><title>{_e(tip)}</title></rect>'
                )
        if highlight == i:
            out.append(
                f'<rect x="{x - 2}" y="{top - 2}" width="{column_width + 4}" '
                f'height="{plot + 4}" fill="none" stroke="#222" stroke-dasharray="3,2"/>'
            )
        out.append(
            f'<text x="{x + column_width / 2}" y="{top + plot + 14}" text-anchor="end" '
            f'transform="rotate(-35 {x + column_width / 2} {top + plot + 14})">{_e(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------- sections


def _badge(status: str) -> str:
    return (
        f'<span class="badge" style="background:{COLOURS.get(status, "#666")}">{_e(status)}</span>'
    )


def _steps_section(run: RunSummary) -> str:
    rows = []
    for s in run.steps:
        note = s.error or ""
        if s.status == StepStatus.SKIPPED and s.metrics.get("succeeded_in_run"):
            note = f"succeeded before in run {s.metrics['succeeded_in_run']} with the same inputs"
        rows.append(
            "<tr>"
            f"<td>{_e(s.step)}</td><td>{_badge(s.status)}</td><td>{_e(format_when(s.started_at))}</td>"
            f"<td class=n>{'' if s.duration_s is None else f'{s.duration_s:.1f} s'}</td>"
            f"<td class=n>{_num(s.rows_in)}</td><td class=n>{_num(s.rows_out)}</td>"
            f"<td class=n>{_num(s.rows_dropped)}</td><td class=n>{_num(s.rows_quarantined)}</td>"
            f"<td class=err>{_e(note)}</td></tr>"
        )
    timed = [s for s in run.steps if s.duration_s is not None]
    gantt = (
        hbar_chart(
            [
                (s.step, [(s.duration_s or 0.0, s.status, f"{s.step}: {s.duration_s:.1f} s")])
                for s in timed
            ],
            offsets=[(s.started_at - run.started_at).total_seconds() for s in timed],
            unit=" s",
        )
        if timed
        else ""
    )
    return (
        '<section id="steps"><h2>Steps</h2>'
        "<table><tr><th>step</th><th>status</th><th>started (UTC)</th><th>duration</th>"
        "<th>rows in</th><th>rows out</th><th>dropped</th><th>quarantined</th><th>note</th></tr>"
        + "".join(rows)
        + "</table><h3>Timeline (seconds since the run started)</h3>"
        + gantt
        + "</section>"
    )


def _flow_section(run: RunSummary, all_records: Sequence[StepRecord]) -> str:
    """Rows per tier. A skipped step shows the figures of the run in which it succeeded."""
    by_id = {(r.run_id, r.step): r for r in all_records}
    bars: list[tuple[str, list[Segment]]] = []
    notes = []
    for s in run.steps:
        source = s
        if s.status == StepStatus.SKIPPED:
            earlier = by_id.get((str(s.metrics.get("succeeded_in_run")), s.step))
            if earlier is None:
                continue
            source = earlier
            notes.append(f"{s.step}: figures of run {earlier.run_id} (skipped in this run)")
        if source.rows_in is None and source.rows_out is None:
            continue
        bars.append((f"{s.step} in", [(float(source.rows_in or 0), "in", "rows read")]))
        bars.append(
            (
                f"{s.step} out",
                [
                    (float(source.rows_out or 0), "out", "rows published"),
                    (float(source.rows_dropped or 0), "dropped", "rows dropped"),
                    (float(source.rows_quarantined or 0), "quarantined", "rows quarantined"),
                ],
            )
        )
    legend = " ".join(
        f'<span class="key" style="background:{COLOURS[k]}"></span>{k}'
        for k in ("in", "out", "dropped", "quarantined")
    )
    body = hbar_chart(bars) if bars else "<p>No rows were processed in this run.</p>"
    return (
        '<section id="row-flow"><h2>Row flow: Bronze → Silver → Gold</h2>'
        f'<p class="legend">{legend}</p>{body}'
        + "".join(f"<p class=note>{_e(n)}</p>" for n in notes)
        + "</section>"
    )


def _quarantine_section(lake: Lake, run_id: str) -> str:
    rows = []
    for table in lake.tables():
        if not table.endswith("__quarantine"):
            continue
        held = read_rows(lake, table, ["_run_id"])
        mine = sum(1 for r in held if r["_run_id"] == run_id)
        rows.append(
            f"<tr><td>{_e(table)}</td><td class=n>{mine:,}</td><td class=n>{len(held):,}</td></tr>"
        )
    if not rows:
        return '<section id="quarantine"><h2>Quarantine</h2><p>No quarantine tables.</p></section>'
    return (
        '<section id="quarantine"><h2>Quarantine</h2>'
        "<table><tr><th>table</th><th>held by this run</th><th>held in total</th></tr>"
        + "".join(rows)
        + "</table></section>"
    )


def _freshness_section(lake: Lake, now: dt.datetime, latest_dq: Mapping[str, DqOutcome]) -> str:
    from crm_lakehouse.catalog import list_tables

    rows = []
    for t in list_tables(lake):
        dq = latest_dq.get(t.table)
        rows.append(
            "<tr>"
            f"<td>{_e(t.table)}</td><td class=n>{'' if t.version is None else t.version}</td>"
            f"<td class=n>{_num(t.rows)}</td><td>{_e(format_when(t.last_updated))}</td>"
            f"<td class=n>{_e(format_age(t.last_updated, now))}</td>"
            f"<td>{_badge(dq.status) + ' ' + _e(dq.detail()) if dq else ''}</td></tr>"
        )
    return (
        '<section id="freshness"><h2>Tables: freshness</h2>'
        "<table><tr><th>table</th><th>version</th><th>rows</th><th>last commit (UTC)</th>"
        "<th>age</th><th>latest data quality</th></tr>" + "".join(rows) + "</table></section>"
    )


def _dq_section(run_id: str, outcomes: Sequence[DqOutcome]) -> str:
    mine = sorted((o for o in outcomes if o.run_id == run_id), key=lambda o: o.table)
    if not mine:
        body = "<p>This run validated no table (its writes were skipped or it stopped early).</p>"
    else:
        body = (
            "<table><tr><th>table</th><th>outcome</th><th>rules</th><th>passed</th>"
            "<th>broken</th></tr>"
            + "".join(
                f"<tr><td>{_e(o.table)}</td><td>{_badge(o.status)}</td><td class=n>{o.rules}</td>"
                f"<td class=n>{o.passed}</td><td>{_e(o.detail())}</td></tr>"
                for o in mine
            )
            + "</table>"
        )
    return f'<section id="data-quality"><h2>Data quality in this run</h2>{body}</section>'


def _trend_section(trend: Sequence[DqRunTotals], runs: Sequence[RunSummary], run_id: str) -> str:
    columns = [
        (
            t.date,
            [
                (float(t.passed), "pass", f"{t.run_id}: {t.passed} rules passed"),
                *[
                    (float(n), action, f"{t.run_id}: {n} {action} rules broken")
                    for action, n in sorted(t.failed_by_action.items())
                ],
            ],
        )
        for t in trend
    ]
    here = next((i for i, t in enumerate(trend) if t.run_id == run_id), None)
    dq_chart = (
        column_chart(columns, highlight=here)
        if columns
        else "<p>No data-quality results recorded yet.</p>"
    )
    rows = "".join(
        f"<tr><td>{_e(t.run_id)}</td><td>{_e(t.date)}</td><td class=n>{t.rules}</td>"
        f"<td class=n>{t.passed}</td><td class=n>{t.rules - t.passed}</td>"
        f"<td class=n>{100.0 * t.passed / t.rules if t.rules else 100.0:.1f}%</td></tr>"
        for t in reversed(trend)
    )
    recent = sorted(runs, key=lambda r: r.started_at)[-TREND_RUNS:]
    durations = column_chart(
        [
            (
                r.date,
                [(r.duration_s or 0.0, r.status, f"{r.run_id}: {r.status}, {r.duration_s} s")],
            )
            for r in recent
        ],
        highlight=next((i for i, r in enumerate(recent) if r.run_id == run_id), None),
    )
    legend = " ".join(
        f'<span class="key" style="background:{COLOURS[k]}"></span>{k}'
        for k in ("pass", "warn", "drop", "quarantine", "fail")
    )
    return (
        f'<section id="dq-trend"><h2>Data quality over the last {len(trend)} runs</h2>'
        f'<p class="legend">rules per run: {legend}</p>{dq_chart}'
        "<table><tr><th>run</th><th>date</th><th>rules</th><th>passed</th><th>broken</th>"
        f"<th>pass rate</th></tr>{rows}</table>"
        f"<h3>Run durations (seconds), last {len(recent)} runs</h3>{durations}</section>"
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:13px;margin:14px 0 4px;color:#555}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.err{color:#b3261e;max-width:420px}.badge{color:#fff;border-radius:3px;padding:1px 6px;
font-size:12px}.chart text{font-size:11px;fill:#333}.key{display:inline-block;width:10px;
height:10px;margin:0 4px 0 10px}.note,.legend{color:#555;font-size:12px}dl{display:grid;
grid-template-columns:max-content auto;gap:2px 12px}dt{color:#555}dd{margin:0}
"""


def render_run_report(lake: Lake, run_id: str, *, now: dt.datetime | None = None) -> str:
    """The report page of ``run_id`` (which must be recorded in ``ops.runs``)."""
    now = now or dt.datetime.now(dt.UTC)
    records = read_runs(lake)
    runs = summarise_runs(records, active_run=run_id)
    run = next((r for r in runs if r.run_id == run_id), None)
    if run is None:
        raise KeyError(f"run {run_id} is not recorded in ops.runs of {lake.root}")
    dq_rows = read_rows(lake, DQ_RESULTS, ("run_id", "table", "action", "passed", "checked_at"))
    outcomes = validations(dq_rows)
    # The trend ends with this run, also when the report of an older run is rebuilt.
    recent = [r for r in runs if r.started_at <= run.started_at][:TREND_RUNS]
    trend = dq_trend(lake, recent, dq_rows)
    steps = ", ".join(f"{s.step} {STEP_MARK.get(s.status, s.status)}" for s in run.steps)
    summary = (
        f'<section id="summary"><h1>Run {_e(run.run_id)} {_badge(run.status)}</h1><dl>'
        f"<dt>logical date</dt><dd>{_e(run.date)}</dd>"
        f"<dt>steps</dt><dd>{_e(steps)}</dd>"
        f"<dt>started (UTC)</dt><dd>{_e(format_when(run.started_at))}</dd>"
        f"<dt>duration</dt><dd>{'' if run.duration_s is None else f'{run.duration_s:.1f} s'}</dd>"
        f"<dt>lake</dt><dd>{_e(lake.root)}</dd>"
        f"<dt>report written</dt><dd>{_e(format_when(now))} on {_e(socket.gethostname())}</dd>"
        + (f'<dt>error</dt><dd class="err">{_e(run.error)}</dd>' if run.error else "")
        + "</dl></section>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>lakehouse run {_e(run.run_id)}: {_e(run.status)}</title>"
        f"<style>{_CSS}</style></head><body>"
        + summary
        + _steps_section(run)
        + _flow_section(run, records)
        + _quarantine_section(lake, run_id)
        + _dq_section(run_id, outcomes)
        + _trend_section(trend, recent, run_id)
        + _freshness_section(lake, now, dq_outcomes(lake, dq_rows))
        + "</body></html>\n"
    )


def write_run_report(lake: Lake, run_id: str, reports: Path) -> Path:
    """Write ``<reports>/runs/<run_id>.html`` and refresh ``latest.html`` beside it."""
    folder = Path(reports) / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    page = render_run_report(lake, run_id)
    path = folder / f"{run_id}.html"
    for target in (path, folder / LATEST):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    return path
