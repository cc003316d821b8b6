"""The generated two-day lake shared by the integration tests (built once per package run).

Day 1 is delivered and run, the same date is run again (a rerun), then day 2 is delivered and
run; the table versions and row counts after day 1 and after the rerun are kept for the
idempotency checks. Building it takes minutes, so every integration module reuses this one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse.config import DeltaAdapterKind, Settings
from crm_lakehouse.delta import DeltaPort, open_port
from crm_lakehouse.lake import Lake
from crm_lakehouse.pipeline import RunResult, run_steps
from crm_lakehouse.synthetic import GenerationReport, generate

DAY1, DAY2 = "2026-11-20", "2026-11-21"
SCALE = 1500


@dataclasses.dataclass
class World:
    settings: Settings
    port: DeltaPort
    lake: Lake
    day1: GenerationReport
    day2: GenerationReport
    run1: RunResult
    versions_after_day1: dict[str, int]
    rows_after_day1: dict[str, int]
    rerun: RunResult
    versions_after_rerun: dict[str, int]
    rows_after_rerun: dict[str, int]
    run2: RunResult


def snapshot(port: DeltaPort, lake: Lake) -> tuple[dict[str, int], dict[str, int]]:
    tables = lake.tables()
    return (
        {t: port.version(lake.location(t)) for t in tables},
        {t: port.read(lake.location(t)).count() for t in tables},
    )


@pytest.fixture(scope="package")
def world(
    spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("e2e")
    settings = base_settings.with_paths(landing=root / "landing", lake=root / "lake")
    faults = dataclasses.replace(settings.generator.faults, malformed_row=0.01, invalid_utf8=0.01)
    port = open_port(spark, DeltaAdapterKind.DELTA_RS)
    lake = Lake(settings.paths.lake)
    day1 = generate(settings.paths.landing, scale=SCALE, seed=11, date=DAY1, faults=faults)
    run1 = run_steps(spark, port, settings, DAY1)
    v1, r1 = snapshot(port, lake)
    rerun = run_steps(spark, port, settings, DAY1)
    v2, r2 = snapshot(port, lake)
    day2 = generate(settings.paths.landing, scale=SCALE, seed=11, date=DAY2, faults=faults)
    run2 = run_steps(spark, port, settings, DAY2)
    yield World(settings, port, lake, day1, day2, run1, v1, r1, rerun, v2, r2, run2)
