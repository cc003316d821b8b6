"""What only the delta_spark adapter does: read Delta's log through the DataFrame reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from crm_lakehouse.delta.spark import DeltaSparkAdapter
from crm_lakehouse.errors import DeltaTableError, UnsupportedOperationError


def test_txn_survives_in_checkpoints_after_log_cleanup(connect_spark: Any, tmp_path: Path) -> None:
    """Delta keeps txn actions in checkpoints when old commit files are cleaned up."""
    location = str(tmp_path / "t")
    data = pa.table({"id": [1, 2]})
    write_deltalake(location, data)
    write_deltalake(
        location,
        data,
        mode="append",
        commit_properties=CommitProperties(app_transactions=[Transaction("silver:x", 7)]),
    )
    write_deltalake(location, data, mode="append")
    DeltaTable(location).create_checkpoint()
    for v in range(2):  # what log cleanup does once commits are older than the retention
        (Path(location) / "_delta_log" / f"{v:020d}.json").unlink()

    port = DeltaSparkAdapter(connect_spark)

    assert port.transaction_version(location, "silver:x") == 7
    assert port.transaction_version(location, "other") is None
    assert port.version(location) == 2
    assert [e.version for e in port.history(location)] == [2]  # what the log still holds
    assert port.read(location).count() == 6


def test_native_txn_follows_the_session(connect_spark: Any) -> None:
    # A Connect server that does not report the Delta extension is not assumed to be Delta.
    assert DeltaSparkAdapter(connect_spark).native_txn is False
    assert DeltaSparkAdapter(connect_spark, native_txn=True).native_txn is True


def test_engine_errors_are_translated_and_chained(connect_spark: Any, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    write_deltalake(location, pa.table({"id": [1]}))
    port = DeltaSparkAdapter(connect_spark)

    with pytest.raises(UnsupportedOperationError, match=r"^optimize .*/t is not supported") as err:
        port.optimize(location)
    assert isinstance(err.value, DeltaTableError)
    assert type(err.value.__cause__).__module__.startswith("pyspark.errors")

    with pytest.raises(DeltaTableError, match=r"overwrite where .* invalid predicate"):
        port.overwrite(location, connect_spark.range(1), predicate="no_such_column = 1")
