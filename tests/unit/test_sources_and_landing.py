from __future__ import annotations

from pathlib import Path

import pytest

from crm_lakehouse.errors import IngestError, UnknownSourceFileError
from crm_lakehouse.ingest.landing import discover, fingerprint
from crm_lakehouse.sources import all_entities, classify_file, source


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("salesforce/2026-11-20/accounts.csv", "salesforce_accounts"),
        ("salesforce/2026-11-20/accounts-redelivery.csv", "salesforce_accounts"),
        ("hubspot/2026-11-20/contacts.jsonl", "hubspot_contacts"),
        ("provider_c/2026-11-20/firmographics-part2.csv", "provider_c_firmographics"),
    ],
)
def test_classify_known_files(path: str, table: str) -> None:
    assert classify_file(Path("/l") / path).table == table


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("crm_c/2026-11-20/accounts.csv", "not a declared source"),
        ("salesforce/latest/accounts.csv", "YYYY-MM-DD"),
        ("salesforce/2026-11-20/accounts.jsonl", "delivers .csv files, found .jsonl"),
        ("salesforce/2026-11-20/accountsX.csv", "no entity of source 'salesforce'"),
        ("hubspot/2026-11-20/deals.jsonl", "no entity of source 'hubspot'"),
    ],
)
def test_classify_rejects_unknown_files_naming_them(path: str, message: str) -> None:
    with pytest.raises(UnknownSourceFileError, match=message) as err:
        classify_file(Path("/l") / path)
    assert path in str(err.value)


def test_registry_tables_are_unique_and_keys_declared() -> None:
    tables = [e.table for e in all_entities()]
    assert len(tables) == len(set(tables)) == 9
    for e in all_entities():
        assert e.key in e.columns
    with pytest.raises(KeyError, match="unknown source"):
        source("crm_c")


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_fingerprint_counts_data_lines_and_hashes(tmp_path: Path) -> None:
    ent = source("salesforce").entity("accounts")
    f = _write(tmp_path / "salesforce/2026-11-20/accounts.csv", b"Id,Name\r\n1,a\r\n\r\n2,b\n")
    fp = fingerprint(f, ent)
    assert fp.header == ("Id", "Name")
    assert fp.data_lines == 2
    assert fp.size_bytes == 20
    same = _write(tmp_path / "salesforce/2026-11-20/accounts-again.csv", f.read_bytes())
    assert fingerprint(same, ent).content_hash == fp.content_hash


def test_fingerprint_counts_across_chunk_borders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crm_lakehouse.ingest.landing as landing

    monkeypatch.setattr(landing, "_CHUNK", 3)
    ent = source("hubspot").entity("companies")
    f = _write(
        tmp_path / "hubspot/2026-11-20/companies.jsonl", b'{"id":"1"}\n\n  \n{"id":"22"}\n{"id"'
    )
    assert fingerprint(f, ent).data_lines == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file or missing header"),
        (b"Id,Id\n1,2\n", "duplicate or empty column names"),
        (b"\xff\xfe,x\n", "header line is not valid UTF-8"),
        (b"001xx,Acme\n", "shares no column"),
    ],
)
def test_bad_csv_headers_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    f = _write(tmp_path / "salesforce/2026-11-20/accounts.csv", content)
    with pytest.raises(IngestError, match=message) as err:
        fingerprint(f, source("salesforce").entity("accounts"))
    assert str(f) in str(err.value)


def test_discover_skips_metadata_and_rejects_strangers(tmp_path: Path) -> None:
    _write(tmp_path / "_truth/2026-11-20/companies.csv", b"x\n")
    _write(tmp_path / "salesforce/2026-11-20/accounts.csv", b"Id,Name\n1,a\n")
    _write(tmp_path / "salesforce/2026-11-21/accounts.csv", b"Id,Name\n1,a\n")
    found = discover(tmp_path, "2026-11-20")
    assert [f.path.name for f in found] == ["accounts.csv"]
    _write(tmp_path / "dropbox/2026-11-20/x.csv", b"x\n")
    with pytest.raises(UnknownSourceFileError, match="dropbox"):
        discover(tmp_path, "2026-11-20")
    with pytest.raises(IngestError, match="does not exist"):
        discover(tmp_path / "nope", "2026-11-20")
