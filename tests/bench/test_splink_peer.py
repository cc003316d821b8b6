"""The Splink peer of the company-resolution benchmark, on a small generated lake.

One lake (scale 1500, Bronze + Silver) and one comparison for the module; the assertions are on
what both sides produced, never on timings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.splink_peer import PeerResult, check_inputs, compare, main, markdown
from pyspark.sql import SparkSession

from crm_lakehouse.config import DeltaAdapterKind, Settings, Step
from crm_lakehouse.delta import open_port
from crm_lakehouse.errors import ConfigError, TableNotFoundError
from crm_lakehouse.lake import Lake
from crm_lakehouse.pipeline import run_steps
from crm_lakehouse.silver import resolution as RES
from crm_lakehouse.synthetic import generate

DAY = "2026-11-20"


@dataclass(frozen=True)
class Built:
    settings: Settings
    records: int  # rows of silver.company_records + silver.firmographics
    result: PeerResult


@pytest.fixture(scope="module")
def built(
    spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    root = tmp_path_factory.mktemp("splink-peer")
    settings = base_settings.with_paths(landing=root / "landing", lake=root / "lake")
    generate(settings.paths.landing, scale=1500, seed=7, date=DAY, faults=settings.generator.faults)
    port = open_port(spark, DeltaAdapterKind.DELTA_RS)
    run_steps(spark, port, settings, DAY, steps=[Step.BRONZE, Step.SILVER])
    lake = Lake(settings.paths.lake)
    records = sum(
        port.read(lake.location(t)).count() for t in (RES.COMPANY_RECORDS, RES.FIRMOGRAPHICS)
    )
    result = compare(spark, settings.paths.lake, settings.paths.landing, [DAY], settings.rules_dir)
    return Built(settings, records, result)


def test_both_sides_cluster_every_input_record(built: Built) -> None:
    r = built.result
    assert built.records > 300  # scale 1500 gives a few hundred company records
    assert r.records == built.records
    assert r.ours_records == built.records
    assert r.splink_records == built.records
    # Both merged duplicates, neither merged everything.
    assert 1 < r.ours_clusters < r.records
    assert 1 < r.splink_clusters < r.records


def test_both_sides_are_scored_against_the_truth(built: Built) -> None:
    r = built.result
    assert r.true_pairs > 0
    for f1 in (r.ours_f1, r.splink_f1):
        assert 0 < f1 <= 1
    # A sound probabilistic model on these records finds most duplicates; ours meets its target.
    assert r.splink_f1 > 0.9
    assert r.splink_precision > 0.9 and r.splink_recall > 0.85
    assert r.ours_f1 > 0.95
    # F1 is the harmonic mean of the precision and recall reported beside it.
    p, q = r.splink_precision, r.splink_recall
    assert r.splink_f1 == pytest.approx(2 * p * q / (p + q))
    assert set(r.splink_f1_at) == {0.9, 0.99}
    assert all(0 < f1 <= 1 for f1 in r.splink_f1_at.values())


def test_both_sides_did_real_work(built: Built) -> None:
    r = built.result
    assert r.backend == "duckdb" and r.splink_version.startswith("5.")
    assert r.threshold == 0.5
    # Blocking yields far fewer pairs than the cross join, but at least one per true pair found.
    cross = r.records * (r.records - 1) // 2
    assert 0 < r.splink_pairs_scored < cross // 10
    assert 0 < r.ours_candidate_pairs < cross // 10
    assert r.splink_seconds > 0 and r.ours_seconds > 0


def test_markdown_shows_both_sides(built: Built) -> None:
    r = built.result
    text = "\n".join(markdown(r))
    assert text.startswith("| figure | ours | Splink 5.")
    assert f"| pairwise F1 | {r.ours_f1:.4f} | {r.splink_f1:.4f} |" in text
    assert f"| company records in / in clusters | {r.records} / {r.ours_records} |" in text
    assert "F1 at p >= 0.9 (untimed)" in text
    assert "Target: company resolution at least as accurate as Splink" in text


def test_missing_tables_and_truth_are_named(built: Built, tmp_path: Path) -> None:
    with pytest.raises(TableNotFoundError, match=r"silver\.company_records"):
        check_inputs(tmp_path / "empty-lake", tmp_path, [DAY], 0.5)
    lake, landing = built.settings.paths.lake, built.settings.paths.landing
    with pytest.raises(ConfigError, match=r"_truth/2026-11-19/source_records\.csv"):
        check_inputs(lake, landing, [DAY, "2026-11-19"], 0.5)
    with pytest.raises(ConfigError, match="threshold"):
        check_inputs(lake, landing, [DAY], 1.5)
    # The command line fails the same way, before starting Spark.
    argv = ["--lake", str(lake), "--landing", str(tmp_path), "--dates", DAY]
    assert main(argv) == ConfigError.exit_code
