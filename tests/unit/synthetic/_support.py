"""Readers the generator tests use to check delivered files independently of the generator.

They parse files line by line with the standard ``csv`` and ``json`` modules (every record is
one physical line), so a test fails if a file the generator calls well-formed does not parse,
or if a row it calls malformed does.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_lakehouse.config import FaultRates

_JSON_ID = re.compile(rb'^\{"id":"([^"]+)"')

DEFAULT_RATES = FaultRates(
    name_variant=0.15,
    domain_variant=0.10,
    email_variant=0.05,
    typo=0.05,
    missing_field=0.08,
    provider_conflict=0.20,
    stale_provider=0.15,
    malformed_row=0.01,
    invalid_utf8=0.01,
    duplicate_file=True,
    late_update=0.01,
)
ZERO_RATES = FaultRates(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0.0)


@dataclass(frozen=True)
class Line:
    """One data line of a delivered file, as bytes and as parsed (None when it does not parse)."""

    number: int  # 1-based, header not counted
    raw: bytes
    valid_utf8: bool
    parsed: list[str] | dict[str, Any] | None
    source_id: str


def read_lines(path: Path) -> tuple[list[str] | None, list[Line]]:
    """(CSV header or None, data lines). Invalid UTF-8 is decoded with replacement characters
    for parsing, which never changes a line's structure."""
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), f"{path}: last line not terminated"
    chunks = raw.split(b"\n")[:-1] if raw else []
    header: list[str] | None = None
    is_csv = path.suffix == ".csv"
    if is_csv:
        header = next(csv.reader([chunks[0].decode("utf-8")]))
        chunks = chunks[1:]
    out: list[Line] = []
    for i, chunk in enumerate(chunks, start=1):
        try:
            chunk.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        text = chunk.decode("utf-8", errors="replace")
        parsed: list[str] | dict[str, Any] | None
        if is_csv:
            assert header is not None
            row = next(csv.reader([text]))
            parsed = row if len(row) == len(header) else None
            source_id = chunk.split(b",", 1)[0].decode("ascii")
        else:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            m = _JSON_ID.match(chunk)
            assert m, f"{path}:{i}: id not readable in {chunk[:60]!r}"
            source_id = m.group(1).decode("ascii")
        out.append(Line(i, chunk, valid, parsed, source_id))
    return header, out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def manifest(landing: Path, date: str) -> dict[str, Any]:
    data = json.loads((landing / "_truth" / date / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def delivered_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file() and "_truth" not in p.parts)


def tree_bytes(landing: Path) -> dict[str, bytes]:
    """Every file under ``landing`` by relative path; manifests without their timing."""
    out: dict[str, bytes] = {}
    for p in sorted(landing.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.name == "manifest.json":
            m = json.loads(data)
            m.pop("elapsed_seconds")
            data = json.dumps(m, sort_keys=True).encode()
        out[p.relative_to(landing).as_posix()] = data
    return out
