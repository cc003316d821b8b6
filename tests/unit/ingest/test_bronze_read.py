"""Bronze read transforms on small delivered files: nothing is lost, everything is flagged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pyspark.sql import SparkSession

from crm_lakehouse.ingest.bronze import bronze_schema, read_file, with_ingest_metadata
from crm_lakehouse.ingest.landing import fingerprint
from crm_lakehouse.sources import source

ACCOUNTS = source("salesforce").entity("accounts")
HUB_COMPANIES = source("hubspot").entity("companies")


def _land(tmp_path: Path, rel: str, data: bytes) -> Path:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def _rows(df):  # type: ignore[no-untyped-def]
    return sorted((r.asDict(recursive=True) for r in df.collect()), key=lambda r: r["_row_hash"])


def test_csv_reordered_header_extra_and_missing_columns(
    spark: SparkSession, tmp_path: Path
) -> None:
    # Name before Id, an undeclared AccountSource column, every other declared column missing.
    path = _land(
        tmp_path,
        "salesforce/2026-11-20/accounts.csv",
        b"Name,Id,AccountSource\nAcme,001A,Web\nGlobex,001B,\n",
    )
    df = read_file(spark, fingerprint(path, ACCOUNTS))
    rows = {r["Id"]: r for r in df.collect()}
    assert rows["001A"]["Name"] == "Acme"
    assert rows["001A"]["Website"] is None
    assert json.loads(rows["001A"]["_rescued"]) == {"AccountSource": "Web"}
    assert json.loads(rows["001B"]["_rescued"]) == {"AccountSource": None}
    assert all(r["_corrupt_record"] is None and r["_bad_encoding"] is False for r in rows.values())


def test_csv_malformed_rows_are_kept_with_raw_text(spark: SparkSession, tmp_path: Path) -> None:
    path = _land(
        tmp_path,
        "salesforce/2026-11-20/accounts.csv",
        b'Id,Name\n001A,"Acme ""Best"" Co"\n001B,"Glob\n001C,Ini,tech,extra\n001D\n',
    )
    df = read_file(spark, fingerprint(path, ACCOUNTS))
    rows = {r["Id"]: (r["Name"], r["_corrupt_record"]) for r in df.collect()}
    assert rows == {
        "001A": ('Acme "Best" Co', None),  # RFC 4180 doubled quotes
        "001B": ("Glob", None),  # unterminated quote: kept, read leniently, not flagged by Spark
        "001C": ("Ini", "001C,Ini,tech,extra"),  # too many fields
        "001D": (None, "001D"),  # too few fields
    }


def test_invalid_utf8_is_flagged_not_lost(spark: SparkSession, tmp_path: Path) -> None:
    path = _land(
        tmp_path, "salesforce/2026-11-20/accounts.csv", b"Id,Name\n001A,Caf\xe9 Bar\n001B,Ok\n"
    )
    rows = {r["Id"]: r for r in read_file(spark, fingerprint(path, ACCOUNTS)).collect()}
    assert rows["001A"]["_bad_encoding"] is True
    assert "\ufffd" in rows["001A"]["Name"]
    assert rows["001B"]["_bad_encoding"] is False


def test_jsonl_nested_unknown_keys_rescued_and_bad_lines_kept(
    spark: SparkSession, tmp_path: Path
) -> None:
    lines = [
        b'{"id":"1","createdAt":1763632800000,"archived":false,"properties":{"name":"Acme","hs_lead_status":"NEW"},"extra":7}',
        b"",
        b'{"id":"2","properties":{"name":"Glo',
        b'{"id":"3","properties":{"name":"Caf\xe9"}}',
    ]
    path = _land(tmp_path, "hubspot/2026-11-20/companies.jsonl", b"\n".join(lines) + b"\n")
    fp = fingerprint(path, HUB_COMPANIES)
    assert fp.data_lines == 3
    df = read_file(spark, fp)
    assert df.count() == 3
    by_raw = {r["_corrupt_record"] or r["id"]: r for r in df.collect()}
    good = by_raw["1"]
    assert good["createdAt"] == "1763632800000"
    assert good["archived"] == "false"
    assert good["properties"]["name"] == "Acme"
    assert json.loads(good["_rescued"]) == {"extra": "7", "properties.hs_lead_status": "NEW"}
    bad = by_raw['{"id":"2","properties":{"name":"Glo']
    assert bad["id"] is None
    assert by_raw["3"]["_bad_encoding"] is True
    assert by_raw["3"]["_rescued"] is None


def test_metadata_columns_match_the_bronze_schema(spark: SparkSession, tmp_path: Path) -> None:
    path = _land(
        tmp_path, "hubspot/2026-11-20/companies.jsonl", b'{"id":"1"}\n{"id":"1"}\n{"id":"2"}\n'
    )
    df = with_ingest_metadata(
        read_file(spark, fingerprint(path, HUB_COMPANIES)),
        source_file="hubspot/2026-11-20/companies.jsonl",
        delivery_date="2026-11-20",
        run_id="r1",
        ingested_at=dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC),
    )
    expected = bronze_schema(HUB_COMPANIES)
    assert [f.name for f in df.schema.fields] == [f.name for f in expected.fields]
    assert [f.dataType for f in df.schema.fields] == [f.dataType for f in expected.fields]
    rows = df.collect()
    assert {r["_source_file"] for r in rows} == {"hubspot/2026-11-20/companies.jsonl"}
    hashes = [r["_row_hash"] for r in rows]
    assert len(set(hashes)) == 2  # identical lines hash the same; different lines differ
