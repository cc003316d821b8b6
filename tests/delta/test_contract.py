"""The contract every Delta adapter must meet, run against each through the ``port`` fixture.

Where the engine behind an adapter cannot do something, the adapter must say so with
UnsupportedOperationError naming the operation; those cases are listed in UNSUPPORTED_ON_SAIL
and asserted as such, never skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from crm_lakehouse.delta._common import parse_user_metadata
from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.errors import DeltaTableError, TableNotFoundError, UnsupportedOperationError

# Operations the delta_spark adapter cannot perform over Sail 0.7 (pysail), each asserted to
# raise UnsupportedOperationError naming the operation:
# - "vacuum", "optimize": Sail's SQL parser has no VACUUM / OPTIMIZE statements.
# - "merge with txn": Sail records neither Delta's txn confs nor userMetadata in a MERGE commit,
#   so an idempotent MERGE is impossible there (a MERGE without txn works).
# Degraded rather than refused (asserted in its test): Sail cannot store a table description,
# so create() keeps it in the create commit's userMetadata.
UNSUPPORTED_ON_SAIL = ("vacuum", "optimize", "merge with txn")

ACCOUNTS = StructType(
    [
        StructField("id", LongType(), False),
        StructField("name", StringType()),
        StructField("region", StringType()),
        StructField("amount", LongType()),
        StructField("updated_at", TimestampType()),
        StructField("deleted", BooleanType()),
    ]
)
T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def unsupported(port: DeltaPort, operation: str) -> bool:
    """True when ``operation`` is in UNSUPPORTED_ON_SAIL and ``port`` runs on Sail."""
    assert operation in UNSUPPORTED_ON_SAIL
    return port.name == "delta_spark"  # the delta_spark parametrisation runs on Sail (conftest)


def df_of(
    port: DeltaPort, rows: Sequence[tuple[Any, ...]], schema: StructType = ACCOUNTS
) -> DataFrame:
    return port.spark.createDataFrame(list(rows), schema)


def table(
    port: DeltaPort,
    tmp_path: Path,
    *,
    partition_by: Sequence[str] = (),
    properties: dict[str, str] | None = None,
    rows: Sequence[tuple[Any, ...]] = (),
) -> str:
    location = str(tmp_path / "accounts")
    assert port.create(location, ACCOUNTS, partition_by=partition_by, properties=properties)
    if rows:
        port.append(location, df_of(port, rows))
    return location


def rows_of(df: DataFrame) -> list[tuple[Any, ...]]:
    """The rows, sorted, with timestamps as epoch microseconds (independent of the client's
    time zone, which Python's datetime conversion would otherwise apply)."""
    got = df.selectExpr(
        "id", "name", "region", "amount", "unix_micros(updated_at)", "deleted"
    ).collect()
    return sorted((tuple(r) for r in got), key=repr)


def assert_rows(actual: DataFrame, rows: Sequence[tuple[Any, ...]]) -> None:
    expected = [
        (i, n, r, a, None if ts is None else int(ts.timestamp() * 1_000_000), d)
        for i, n, r, a, ts, d in rows
    ]
    assert rows_of(actual) == sorted(expected, key=repr)


A = [
    (1, "Acme", "emea", 100, T0, False),
    (2, "Globex", "amer", 5, T0, False),
    (3, "Initech", "apac", None, T0, False),
]
B = [(4, "Umbrella", "emea", 70, T0, False), (5, "Hooli", None, 20, T0, False)]


# ---------------------------------------------------------------------- create and read


def test_create_records_schema_partitions_and_properties(port: DeltaPort, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    props = {"delta.logRetentionDuration": "interval 60 days"}
    assert not port.exists(location)

    assert port.create(location, ACCOUNTS, partition_by=["region"], properties=props)

    assert port.exists(location)
    assert port.version(location) == 0
    empty = port.read(location)
    assert empty.count() == 0
    # Columns are matched by name everywhere; Sail stores partition columns last.
    assert {f.name: f.dataType for f in empty.schema} == {f.name: f.dataType for f in ACCOUNTS}
    independent = DeltaTable(location)
    assert independent.metadata().partition_columns == ["region"]
    assert independent.metadata().configuration["delta.logRetentionDuration"] == "interval 60 days"
    types = {f["name"]: f["type"] for f in json.loads(independent.schema().to_json())["fields"]}
    assert types["updated_at"] == "timestamp"  # an instant, never timestamp_ntz


def test_create_twice_returns_false_and_changes_nothing(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)

    assert port.create(location, ACCOUNTS, partition_by=["region"]) is False

    assert port.version(location) == 1
    assert DeltaTable(location).metadata().partition_columns == []


def test_create_keeps_the_description(port: DeltaPort, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    port.create(location, ACCOUNTS, description="Golden accounts")

    stored = DeltaTable(location).metadata().description
    if port.name == "delta_rs":
        assert stored == "Golden accounts"
    else:  # Sail cannot store a description: the adapter keeps it in the create commit
        assert stored is None
        created = port.history(location)[-1]
        assert parse_user_metadata(created.user_metadata)["description"] == "Golden accounts"


def test_create_refuses_timestamp_without_time_zone(port: DeltaPort, tmp_path: Path) -> None:
    schema = StructType([StructField("id", LongType()), StructField("seen", TimestampNTZType())])
    location = str(tmp_path / "t")

    with pytest.raises(UnsupportedOperationError, match=r"seen.*TIMESTAMP_NTZ"):
        port.create(location, schema)
    assert not port.exists(location)


def test_create_refuses_deletion_vectors(port: DeltaPort, tmp_path: Path) -> None:
    location = str(tmp_path / "t")
    with pytest.raises(UnsupportedOperationError, match=r"delta\.enableDeletionVectors"):
        port.create(location, ACCOUNTS, properties={"delta.enableDeletionVectors": "true"})


def test_read_current_and_as_of_versions(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    port.append(location, df_of(port, B))

    assert_rows(port.read(location), A + B)
    assert_df_equality(
        port.read(location, version=1),
        df_of(port, A),
        ignore_row_order=True,
        ignore_nullable=True,
        ignore_metadata=True,
    )
    assert port.read(location, version=0).count() == 0
    with pytest.raises(DeltaTableError, match=r"version 7.*versions 0 to 2"):
        port.read(location, version=7)


def test_missing_table_is_reported_with_its_location(port: DeltaPort, tmp_path: Path) -> None:
    location = str(tmp_path / "nowhere")

    for call in (
        lambda: port.read(location),
        lambda: port.version(location),
        lambda: port.append(location, df_of(port, A)),
        lambda: port.history(location),
    ):
        with pytest.raises(TableNotFoundError, match=location):
            call()
    assert not port.exists(location)


def test_timestamps_round_trip_as_utc_instants(port: DeltaPort, tmp_path: Path) -> None:
    cet = timezone(timedelta(hours=1))
    moments = {
        1: datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC),
        2: datetime(2026, 3, 29, 3, 0, tzinfo=cet),  # 02:00 UTC
    }
    location = table(port, tmp_path)
    port.append(
        location, df_of(port, [(i, None, None, None, ts, None) for i, ts in moments.items()])
    )

    got = port.read(location).selectExpr("id", "unix_micros(updated_at) AS us").collect()
    assert {r["id"]: r["us"] for r in got} == {
        i: int(ts.timestamp() * 1_000_000) for i, ts in moments.items()
    }
    arrow = DeltaTable(location).to_pyarrow_table(columns=["id", "updated_at"])
    assert str(arrow.schema.field("updated_at").type) == "timestamp[us, tz=UTC]"
    assert dict(zip(arrow["id"].to_pylist(), arrow["updated_at"].to_pylist(), strict=True)) == {
        i: ts.astimezone(UTC) for i, ts in moments.items()
    }


def test_independent_reader_sees_the_same_rows(port: DeltaPort, tmp_path: Path) -> None:
    """Nulls in every column (the partition column too) and partition values that need
    escaping read back the same through the adapter and through delta-rs's own reader."""
    rows = [*A, *B, (6, "Odd/Name=1%", "a b/c=d%", 1, T1, True), (7, None, None, None, None, None)]
    location = table(port, tmp_path, partition_by=["region"], rows=rows)
    port.merge(location, df_of(port, [(2, "Globex 2", "amer", 6, T1, False)]), keys=["id"])

    spark_rows = sorted(
        tuple(r)
        for r in port.read(location)
        .selectExpr("id", "name", "region", "amount", "unix_micros(updated_at)", "deleted")
        .collect()
    )
    arrow = DeltaTable(location).to_pyarrow_table().to_pylist()
    independent = sorted(
        (
            r["id"],
            r["name"],
            r["region"],
            r["amount"],
            None if r["updated_at"] is None else int(r["updated_at"].timestamp() * 1_000_000),
            r["deleted"],
        )
        for r in arrow
    )
    assert spark_rows == independent
    assert len(independent) == 7
    assert (7, None, None, None, None, None) in independent


def test_odd_partition_values(port: DeltaPort, tmp_path: Path) -> None:
    """Partition values that need escaping in paths or look like globs survive appends,
    merges and both kinds of predicate overwrite. (Locations with spaces are covered for
    delta_rs only: Sail 0.7 percent-encodes them on write and cannot find the table again.)"""
    location = str(tmp_path / "accounts")
    port.create(location, ACCOUNTS, partition_by=["region"])
    port.append(
        location,
        df_of(
            port,
            [
                (1, "a", "a b/c=d%", 1, T0, False),
                (2, "b", "x*y[1]", 2, T0, False),
                (3, "c", None, 3, T0, False),
            ],
        ),
    )
    port.merge(location, df_of(port, [(4, "d", "q?{z}", 4, T0, False)]), keys=["id"])
    port.overwrite(
        location, df_of(port, [(5, "e", "a b/c=d%", 0, T0, False)]), predicate="amount < 3"
    )
    port.overwrite(
        location, df_of(port, [(6, "f", "q?{z}", 0, T0, False)]), predicate="region = 'q?{z}'"
    )

    expected = [
        (3, "c", None, 3, T0, False),
        (5, "e", "a b/c=d%", 0, T0, False),
        (6, "f", "q?{z}", 0, T0, False),
    ]
    assert_rows(port.read(location), expected)
    independent = DeltaTable(location).to_pyarrow_table(columns=["id", "region"]).to_pylist()
    assert sorted((r["id"], r["region"]) for r in independent) == [
        (3, None),
        (5, "a b/c=d%"),
        (6, "q?{z}"),
    ]


# ---------------------------------------------------------------------- append


def test_append_reports_what_it_wrote(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path)

    result = port.append(location, df_of(port, A))

    assert (result.table, result.version, result.skipped) == (location, 1, False)
    assert result.rows_written == 3
    assert result.files_added is not None and result.files_added >= 1
    assert_rows(port.read(location), A)


def test_append_matches_columns_by_name(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path)
    shuffled = df_of(port, A).select("deleted", "updated_at", "amount", "region", "name", "id")

    port.append(location, shuffled)

    assert_rows(port.read(location), A)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("id, name, region, amount, updated_at", r"missing columns \['deleted'\]"),
        ("*, 1 AS extra", r"unexpected columns \['extra'\]"),
        (
            "id, name, region, CAST(amount AS INT) AS amount, updated_at, deleted",
            r"amount \(expected bigint, found int\)",
        ),
    ],
    ids=["missing", "extra", "retyped"],
)
def test_append_refuses_another_schema(
    port: DeltaPort, tmp_path: Path, change: str, message: str
) -> None:
    location = table(port, tmp_path)

    with pytest.raises(DeltaTableError, match=message) as err:
        port.append(location, df_of(port, B).selectExpr(*change.split(", ")))

    assert location in str(err.value)
    assert port.version(location) == 0


def test_append_refuses_nulls_in_not_null_columns(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path)
    nullable = StructType([StructField(f.name, f.dataType) for f in ACCOUNTS])

    with pytest.raises(DeltaTableError, match=r"NOT NULL") as err:
        port.append(location, df_of(port, [(None, "no id", "emea", 1, T0, False)], nullable))

    assert location in str(err.value) and "id" in str(err.value)
    assert port.version(location) == 0


def test_append_rows_writes_driver_rows_as_append_would(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    cet = timezone(timedelta(hours=1))
    rows = [
        (4, "Umbrella", "emea", 70, datetime(2026, 3, 29, 3, 0, tzinfo=cet), False),
        (5, None, None, None, None, None),
    ]

    result = port.append_rows(location, rows, ACCOUNTS)

    assert (result.version, result.skipped, result.rows_written) == (2, False, 2)
    assert_rows(port.read(location), A + rows)
    arrow = DeltaTable(location).to_pyarrow_table(columns=["id", "updated_at"])
    assert str(arrow.schema.field("updated_at").type) == "timestamp[us, tz=UTC]"


def test_merge_rows_upserts_driver_rows_as_merge_would(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    changed = (A[0][0], "Renamed", *A[0][2:])
    new = (9, "Newco", "apac", 3, T0, False)

    txn = None if unsupported(port, "merge with txn") else Txn("m", 1)

    result = port.merge_rows(location, [changed, new], ACCOUNTS, keys=("id",), txn=txn)

    assert (result.version, result.skipped) == (2, False)
    assert_rows(port.read(location), [changed, *A[1:], new])
    if txn is not None:
        again = port.merge_rows(location, [changed, new], ACCOUNTS, keys=("id",), txn=txn)
        assert again.skipped and port.version(location) == 2
    with pytest.raises(DeltaTableError, match="more than once"):
        port.merge_rows(location, [new, new], ACCOUNTS, keys=("id",))


def test_append_rows_keeps_arrays_and_reads_naive_times_as_local(
    port: DeltaPort, tmp_path: Path
) -> None:
    schema = StructType(
        [
            StructField("id", LongType(), False),
            StructField("tags", ArrayType(StringType(), False), False),
            StructField("at", TimestampType(), False),
        ]
    )
    location = str(tmp_path / "tagged")
    port.create(location, schema)
    naive = datetime(2026, 1, 1, 9, 30)  # local time, as spark.createDataFrame reads it
    rows = [(1, ["a", "b"], naive), (2, [], naive)]

    port.append_rows(location, rows, schema)

    got = port.read(location).selectExpr("id", "tags", "unix_micros(at) AS us").collect()
    micros = int(naive.astimezone(UTC).timestamp() * 1_000_000)
    assert sorted(tuple(r) for r in got) == [(1, ["a", "b"], micros), (2, [], micros)]


def test_append_rows_refuses_another_schema_and_nulls(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path)
    narrower = StructType(ACCOUNTS.fields[:-1])
    nullable = StructType([StructField(f.name, f.dataType) for f in ACCOUNTS])

    with pytest.raises(DeltaTableError, match=r"missing columns \['deleted'\]"):
        port.append_rows(location, [(1, "Acme", "emea", 1, T0)], narrower)
    with pytest.raises(DeltaTableError, match=r"NOT NULL") as err:
        port.append_rows(location, [(None, "no id", "emea", 1, T0, False)], nullable)

    assert location in str(err.value)
    assert port.version(location) == 0


def test_append_rows_with_the_same_txn_is_skipped(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"])
    txn = Txn("ledger:2026-01-01", 1)

    first = port.append_rows(location, A, ACCOUNTS, txn=txn)
    again = port.append_rows(location, A, ACCOUNTS, txn=txn)

    assert (first.version, first.skipped) == (1, False)
    assert (again.version, again.skipped) == (1, True)
    assert_rows(port.read(location), A)
    assert sorted(r[0] for r in port.read(location).select("region").distinct().collect()) == [
        "amer",
        "apac",
        "emea",
    ]


def test_append_does_not_collect_the_data(
    port: DeltaPort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200k rows in 4 partitions land as several files, and no DataFrame carrying the data's
    sentinel column is ever pulled to the driver (collect, toPandas, toArrow, ...)."""
    schema = StructType(
        [StructField("id", LongType()), StructField("payload_sentinel", StringType())]
    )
    location = str(tmp_path / "big")
    port.create(location, schema)
    big = port.spark.range(0, 200_000, 1, 4).selectExpr(
        "id", "CAST(id % 97 AS STRING) AS payload_sentinel"
    )
    _forbid_driver_collection(monkeypatch, "payload_sentinel")

    result = port.append(location, big)

    assert result.rows_written == 200_000
    assert result.files_added is not None and result.files_added > 1
    monkeypatch.undo()
    assert port.read(location).count() == 200_000


def _forbid_driver_collection(monkeypatch: pytest.MonkeyPatch, sentinel: str) -> None:
    from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame
    from pyspark.sql.connect.dataframe import DataFrame as ConnectDataFrame

    for cls in (ClassicDataFrame, ConnectDataFrame):
        for method in ("collect", "toPandas", "toArrow", "toLocalIterator", "take", "tail"):
            original = getattr(cls, method)

            def guard(
                self: Any, *args: Any, _original: Any = original, _m: str = method, **kw: Any
            ) -> Any:
                if sentinel in self.columns:
                    raise AssertionError(f"the adapter called {_m}() on the data")
                return _original(self, *args, **kw)

            monkeypatch.setattr(cls, method, guard)


# ---------------------------------------------------------------------- overwrite


def test_overwrite_replaces_the_whole_table(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=A)

    result = port.overwrite(location, df_of(port, B))

    assert (result.version, result.rows_written) == (2, 2)
    assert_rows(port.read(location), B)
    assert_rows(port.read(location, version=1), A)


def test_overwrite_by_partition_predicate(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=[*A, *B])
    emea = [(1, "Acme 2", "emea", 101, T1, False), (7, "Wayne", "emea", 9, T1, False)]

    result = port.overwrite(location, df_of(port, emea), predicate="region = 'emea'")

    assert result.rows_written == 2
    assert_rows(port.read(location), [*emea, A[1], A[2], B[1]])
    assert "region = 'emea'" in port.history(location, limit=1)[0].parameters["predicate"]


def test_overwrite_by_non_partition_predicate(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=[*A, *B])
    small = [(8, "Tiny", "amer", 1, T1, False)]

    port.overwrite(location, df_of(port, small), predicate="amount < 50")

    # amount 5 and 20 are replaced; NULL amount (id 3) does not match, so it stays.
    assert_rows(port.read(location), [A[0], A[2], B[0], *small])


def test_overwrite_refuses_rows_outside_the_predicate(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=A)

    with pytest.raises(DeltaTableError, match="do not satisfy the predicate") as err:
        port.overwrite(location, df_of(port, B), predicate="region = 'emea'")

    assert location in str(err.value)
    assert port.version(location) == 1
    assert_rows(port.read(location), A)


# ---------------------------------------------------------------------- merge

REFUSE_OLDER = "s.updated_at >= t.updated_at"


def test_merge_updates_matches_and_inserts_new_keys(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=A)
    source = [(2, "Globex 2", "amer", 6, T1, False), (9, "New", None, 3, T1, False)]

    result = port.merge(location, df_of(port, source), keys=["id"])

    assert (result.version, result.skipped, result.rows_written) == (2, False, 2)
    assert_rows(port.read(location), [A[0], A[2], *source])


def test_merge_refuses_older_data(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=[(1, "Acme", "emea", 100, T1, False), A[1]])
    stale = (1, "Acme (old)", "emea", 1, T0, False)
    fresh = (2, "Globex 2", "amer", 6, T1, False)

    port.merge(location, df_of(port, [stale, fresh]), keys=["id"], update_condition=REFUSE_OLDER)

    assert_rows(port.read(location), [(1, "Acme", "emea", 100, T1, False), fresh])


def test_merge_deletes_on_the_delete_condition(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    source = [(1, "Acme", "emea", 100, T1, True), (2, "Globex 2", "amer", 6, T1, False)]

    port.merge(location, df_of(port, source), keys=["id"], delete_condition="s.deleted")

    assert_rows(port.read(location), [source[1], A[2]])


def test_merge_without_insert_leaves_new_keys_out(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    source = [(1, "Acme 2", "emea", 1, T1, False), (9, "New", None, 3, T1, False)]

    port.merge(location, df_of(port, source), keys=["id"], insert=False)

    assert_rows(port.read(location), [source[0], A[1], A[2]])


def test_merge_refuses_duplicate_source_keys(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    source = [
        (1, "a", "emea", 1, T1, False),
        (1, "b", "emea", 2, T1, False),
        (2, "c", "amer", 3, T1, False),
        (2, "d", "amer", 4, T1, False),
        (3, "e", "apac", 5, T1, False),
    ]

    with pytest.raises(DeltaTableError, match=r"2 key value\(s\) occurring more than once") as err:
        port.merge(location, df_of(port, source), keys=["id"])

    assert location in str(err.value)
    assert port.version(location) == 1


def test_merge_refuses_unknown_keys(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    with pytest.raises(DeltaTableError, match=r"key columns \['nope'\]"):
        port.merge(location, df_of(port, B), keys=["nope"])


# ---------------------------------------------------------------------- idempotency


def test_append_with_the_same_txn_is_skipped(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path)
    txn = Txn("bronze:2026-01-01", 1)

    first = port.append(location, df_of(port, A), txn=txn)
    again = port.append(location, df_of(port, A), txn=txn)

    assert (first.version, first.skipped) == (1, False)
    assert (again.version, again.skipped, again.rows_written) == (1, True, 0)
    assert port.transaction_version(location, txn.app_id) == 1
    assert port.read(location).count() == 3

    newer = port.append(location, df_of(port, B), txn=Txn(txn.app_id, 2))
    assert (newer.version, newer.skipped) == (2, False)
    assert port.transaction_version(location, txn.app_id) == 2
    assert port.transaction_version(location, "someone-else") is None


def test_overwrite_with_the_same_txn_is_skipped(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=A)
    txn = Txn("gold:summary", 3)

    first = port.overwrite(location, df_of(port, B), txn=txn)
    again = port.overwrite(location, df_of(port, A), txn=txn)

    assert (first.version, first.skipped) == (2, False)
    assert (again.version, again.skipped) == (2, True)
    assert_rows(port.read(location), B)
    assert port.already_written(location, Txn(txn.app_id, 2))
    assert not port.already_written(location, Txn(txn.app_id, 4))
    committed = parse_user_metadata(port.history(location, limit=1)[0].user_metadata)
    assert committed["txn"] == {"appId": "gold:summary", "version": 3}


def test_merge_with_the_same_txn_is_skipped(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    txn = Txn("silver:accounts", 1)
    source = df_of(port, [(2, "Globex 2", "amer", 6, T1, False)])

    if unsupported(port, "merge with txn"):
        with pytest.raises(UnsupportedOperationError, match=r"merge into .*with txn") as err:
            port.merge(location, source, keys=["id"], txn=txn)
        assert location in str(err.value)
        assert port.version(location) == 1
        return

    first = port.merge(location, source, keys=["id"], txn=txn)
    again = port.merge(
        location, df_of(port, [(2, "other", "amer", 7, T1, False)]), keys=["id"], txn=txn
    )

    assert (first.version, first.skipped) == (2, False)
    assert (again.version, again.skipped) == (2, True)
    assert port.transaction_version(location, txn.app_id) == 1
    assert port.read(location).where("id = 2").first()["name"] == "Globex 2"
    newer = port.merge(location, source, keys=["id"], txn=Txn(txn.app_id, 2))
    assert (newer.version, newer.skipped) == (3, False)


# ---------------------------------------------------------------------- history and maintenance


def test_history_lists_commits_newest_first(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, partition_by=["region"], rows=A)
    port.overwrite(location, df_of(port, B), predicate="region = 'emea' OR region IS NULL")
    port.merge(location, df_of(port, [A[1]]), keys=["id"])

    history = port.history(location)

    assert [(e.version, e.operation) for e in history] == [
        (3, "MERGE"),
        (2, "WRITE"),
        (1, "WRITE"),
        (0, "CREATE TABLE"),
    ]
    assert all(e.timestamp_ms and e.timestamp_ms > 1_700_000_000_000 for e in history)
    assert [e.version for e in port.history(location, limit=2)] == [3, 2]


def test_vacuum_deletes_unreferenced_files(port: DeltaPort, tmp_path: Path) -> None:
    location = table(
        port,
        tmp_path,
        properties={"delta.deletedFileRetentionDuration": "interval 0 hours"},
        rows=A,
    )
    port.overwrite(location, df_of(port, B))
    old_files = set(DeltaTable(location, version=1).file_uris())

    if unsupported(port, "vacuum"):
        with pytest.raises(UnsupportedOperationError, match=r"vacuum.*not supported") as err:
            port.vacuum(location, retention_hours=0)
        assert location in str(err.value)
        assert all(Path(f).exists() for f in old_files)
        return

    deleted = port.vacuum(location, retention_hours=0)

    assert {str(Path(location) / f) for f in deleted} >= old_files
    assert not any(Path(f).exists() for f in old_files)
    assert_rows(port.read(location), B)


def test_vacuum_enforces_the_table_retention(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    port.overwrite(location, df_of(port, B))

    expected = UnsupportedOperationError if unsupported(port, "vacuum") else DeltaTableError
    with pytest.raises(expected, match=r"vacuum") as err:
        port.vacuum(location, retention_hours=1)

    assert location in str(err.value)
    assert all(Path(f).exists() for f in DeltaTable(location, version=1).file_uris())


def test_optimize_compacts_small_files(port: DeltaPort, tmp_path: Path) -> None:
    location = table(port, tmp_path, rows=A)
    port.append(location, df_of(port, B))

    if unsupported(port, "optimize"):
        with pytest.raises(UnsupportedOperationError, match=r"optimize.*not supported"):
            port.optimize(location)
        assert port.version(location) == 2
        return

    metrics = port.optimize(location)

    assert metrics["numFilesRemoved"] >= 2 and metrics["numFilesAdded"] == 1
    assert len(DeltaTable(location).file_uris()) == 1
    assert_rows(port.read(location), [*A, *B])
