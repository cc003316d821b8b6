"""The scale chart and the stored benchmark results (no Spark: pure rendering and merging)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bench.chart import loglog_chart
from bench.pipeline_bench import RunFigures, StepFigures, merge_results, scale_chart

SVG = "{http://www.w3.org/2000/svg}"


def _run(scale: int, label: str, seconds: tuple[float, float, float]) -> RunFigures:
    steps = [
        StepFigures(step, s, scale, scale, s / 10, {"companies.candidate_pairs": scale})
        for step, s in zip(("bronze", "silver", "gold"), seconds, strict=True)
    ]
    return RunFigures(scale, label, scale * 2, sum(seconds) + 9, 500.0, 4000.0, 12, steps)


def test_loglog_chart_places_points_by_log_scale_and_lists_every_series() -> None:
    svg = loglog_chart(
        {"a": [(1e5, 10.0), (1e6, 100.0), (1e7, 1000.0)], "b": [(1e5, 5.0)]},
        title="t",
        x_label="records",
        y_label="s",
    )
    root = ET.fromstring(svg)
    line = root.find(f"{SVG}polyline")
    assert line is not None
    xs, ys = zip(*(map(float, p.split(",")) for p in line.get("points", "").split()), strict=True)
    # Equal ratios are equal distances on log axes: a straight line of slope 1 here.
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    assert ys[0] - ys[1] == pytest.approx(ys[1] - ys[2], abs=0.2)
    assert ys[0] > ys[2]  # larger values are drawn higher up
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert {"a", "b", "linear", "t"} <= set(legend)
    with pytest.raises(ValueError, match="nothing to plot"):
        loglog_chart({"a": []}, title="t", x_label="x", y_label="y")


def test_results_are_merged_by_scale_and_run(tmp_path: Path) -> None:
    store = tmp_path / "results" / "pipeline.json"
    floor = {"seconds": 6.0, "rows": 1, "files": 1, "wall": 9.0}
    merge_results(store, [_run(100_000, "full", (10, 20, 5))], {100_000: floor}, "2026-11-20")
    runs, floors, dates = merge_results(
        store,
        [_run(1_000_000, "full", (50, 90, 8)), _run(100_000, "full", (8, 15, 4))],
        {1_000_000: {**floor, "seconds": 30.0}},
        "2026-11-22",
    )
    assert [(r.scale, r.step_seconds) for r in runs] == [(100_000, 27), (1_000_000, 148)]
    assert sorted(floors) == [100_000, 1_000_000]
    assert dates == {"100000": "2026-11-22", "1000000": "2026-11-22"}
    stored = json.loads(store.read_text())
    assert len(stored["runs"]) == 2 and stored["runs"][1]["steps"][1]["seconds"] == 90
    svg = ET.fromstring(scale_chart(runs, floors))
    names = {t.text for t in svg.iter(f"{SVG}text")}
    assert {"bronze", "silver", "gold", "total", "floor"} <= names
    assert len(list(svg.iter(f"{SVG}polyline"))) == 5
