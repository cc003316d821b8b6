"""What only the delta_rs adapter does: staging, file statistics, vacuum of leftovers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from crm_lakehouse.delta.rs import STAGING_DIR, DeltaRsAdapter
from crm_lakehouse.errors import UnsupportedOperationError
from tests.delta.test_contract import ACCOUNTS, T0, T1

ROWS = [
    (1, "Acme", "emea", 100, T0, False),
    (2, "Globex", "amer", 5, T0, False),
    (3, None, None, None, None, None),
]


@pytest.fixture
def rs(spark: SparkSession) -> DeltaRsAdapter:
    return DeltaRsAdapter(spark)


def _junk(location: str) -> list[str]:
    found = []
    for dirpath, dirnames, names in os.walk(location):
        if "_delta_log" in dirpath.split(os.sep):
            continue
        found += [d for d in dirnames if d == STAGING_DIR]
        found += [n for n in names if n == "_SUCCESS" or n.endswith(".crc")]
    return found


def test_writes_leave_only_committed_parquet_files(rs: DeltaRsAdapter, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    rs.create(location, ACCOUNTS, partition_by=["region"])
    rs.append(location, rs.spark.createDataFrame(ROWS, ACCOUNTS))
    rs.overwrite(location, rs.spark.createDataFrame([ROWS[0]], ACCOUNTS), predicate="amount >= 100")
    rs.merge(location, rs.spark.createDataFrame([ROWS[1]], ACCOUNTS), keys=["id"])

    assert _junk(location) == []
    on_disk = {
        os.path.relpath(os.path.join(d, n), location)
        for d, _, names in os.walk(location)
        if "_delta_log" not in d
        for n in names
    }
    every_version = set()
    for v in range(rs.version(location) + 1):
        every_version |= {os.path.relpath(f, location) for f in DeltaTable(location, v).file_uris()}
    assert on_disk == every_version  # nothing on disk that no version references


def test_add_actions_carry_exact_statistics(rs: DeltaRsAdapter, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    rs.create(location, ACCOUNTS)
    rs.append(location, rs.spark.createDataFrame(ROWS, ACCOUNTS).coalesce(1))

    (stats,) = [
        json.loads(line)["add"]["stats"]
        for line in (Path(location) / "_delta_log" / f"{1:020d}.json").read_text().splitlines()
        if line.startswith('{"add"')
    ]
    parsed = json.loads(stats)
    assert parsed["numRecords"] == 3
    assert parsed["nullCount"] == {
        "id": 0,
        "name": 1,
        "region": 1,
        "amount": 1,
        "updated_at": 1,
        "deleted": 1,
    }
    assert parsed["minValues"] == {"id": 1, "name": "Acme", "region": "amer", "amount": 5}
    assert parsed["maxValues"] == {"id": 3, "name": "Globex", "region": "emea", "amount": 100}
    # Readers skip files with these statistics; the answer must not change.
    dt = DeltaTable(location)
    assert dt.file_uris(file_pruning_predicate="id > 3") == []
    assert sorted(dt.to_pyarrow_table(filters=[("id", ">=", 2)])["id"].to_pylist()) == [2, 3]


def test_merge_writes_no_deletion_vectors(rs: DeltaRsAdapter, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    rs.create(location, ACCOUNTS, partition_by=["region"])
    rs.append(location, rs.spark.createDataFrame(ROWS, ACCOUNTS))
    rs.merge(
        location,
        rs.spark.createDataFrame([(1, "Acme", "emea", 1, T1, True)], ACCOUNTS),
        keys=["id"],
        delete_condition="s.deleted",
    )

    protocol = DeltaTable(location).protocol()
    assert protocol.min_reader_version == 1 and not protocol.reader_features
    assert sorted(r["id"] for r in rs.read(location).collect()) == [2, 3]


def test_vacuum_removes_leftovers_of_killed_writers(rs: DeltaRsAdapter, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    rs.create(
        location, ACCOUNTS, properties={"delta.deletedFileRetentionDuration": "interval 1 hours"}
    )
    rs.append(location, rs.spark.createDataFrame(ROWS, ACCOUNTS))
    two_hours_ago = time.time() - 7200
    orphan = Path(location) / "part-00000-never-committed.c000.snappy.parquet"
    staging = Path(location) / STAGING_DIR / "dead-writer"
    staging.mkdir(parents=True)
    (staging / "part-00000.parquet").write_bytes(b"x")
    orphan.write_bytes(b"x")
    for p in (orphan, staging / "part-00000.parquet", staging):
        os.utime(p, (two_hours_ago, two_hours_ago))

    deleted = rs.vacuum(location, retention_hours=1)

    assert orphan.name in deleted
    assert os.path.join(STAGING_DIR, "dead-writer", "part-00000.parquet") in deleted
    assert not orphan.exists() and not staging.exists()
    assert rs.read(location).count() == 3


def test_refuses_sessions_and_locations_it_cannot_serve(
    spark: SparkSession, connect_spark: SparkSession
) -> None:
    with pytest.raises(UnsupportedOperationError, match="classic SparkSession"):
        DeltaRsAdapter(connect_spark)
    with pytest.raises(UnsupportedOperationError, match=r"s3://bucket/t.*local paths"):
        DeltaRsAdapter(spark).exists("s3://bucket/t")


def test_location_with_a_space(rs: DeltaRsAdapter, tmp_path: Path) -> None:
    location = str(tmp_path / "odd dir" / "t")
    rs.create(location, ACCOUNTS, partition_by=["region"])
    rs.append(location, rs.spark.createDataFrame(ROWS, ACCOUNTS))
    rs.overwrite(location, rs.spark.createDataFrame([ROWS[0]], ACCOUNTS), predicate="id = 1")
    rs.merge(location, rs.spark.createDataFrame([ROWS[1]], ACCOUNTS), keys=["id"])

    assert sorted(r["id"] for r in rs.read(location).collect()) == [1, 2, 3]
    assert rs.version(location) == 3
    with pytest.raises(UnsupportedOperationError, match="containing '%'"):
        rs.exists(str(tmp_path / "100%"))
