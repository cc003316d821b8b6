"""Discover the files delivered for a date and fingerprint them.

Fingerprinting streams each file once (bounded memory) to get its SHA-256 content hash, which
keys the file ledger, and its count of non-blank lines, which Bronze checks against the rows
Spark read so that no delivered row can go missing unnoticed.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from crm_lakehouse.errors import IngestError, UnknownSourceFileError
from crm_lakehouse.sources import SOURCES, Entity, FileFormat, classify_file

_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    path: Path
    entity: Entity
    content_hash: str
    size_bytes: int
    data_lines: int
    """Non-blank lines holding records (the header line excluded for CSV)."""
    header: tuple[str, ...] = ()
    """CSV only: the delivered header, in file order."""


def discover(landing: Path, date: str) -> list[LandingFile]:
    """Every file delivered for ``date``, in ingestion order (source, entity, plain name first).

    Raises :class:`UnknownSourceFileError` for a file or folder that is not a declared delivery
    and :class:`IngestError` for a file that cannot be read.
    """
    if not landing.is_dir():
        raise IngestError(f"landing folder {landing} does not exist")
    declared = {s.name for s in SOURCES}
    files: list[LandingFile] = []
    for child in sorted(landing.iterdir()):
        if child.name.startswith(("_", ".")):
            continue  # metadata such as the generator's _truth folder
        if not child.is_dir() or child.name not in declared:
            raise UnknownSourceFileError(
                f"{child}: not a declared source folder (known: {sorted(declared)})"
            )
        day = child / date
        if not day.is_dir():
            continue
        for path in sorted(day.iterdir()):
            if path.name.startswith("."):
                continue
            if not path.is_file():
                raise UnknownSourceFileError(f"{path}: expected a file, found a folder")
            files.append(fingerprint(path, classify_file(path)))
    # Within an entity the plainly named file comes first, so that when the same content is
    # delivered twice the copy with a suffix ("accounts-redelivery.csv") is the duplicate.
    return sorted(files, key=_delivery_order)


def _delivery_order(f: LandingFile) -> tuple[str, str, bool, str]:
    stem = f.path.name.rsplit(".", 1)[0]
    return (f.entity.source, f.entity.name, stem != f.entity.name, f.path.name)


def fingerprint(path: Path, entity: Entity) -> LandingFile:
    digest = hashlib.sha256()
    size = 0
    lines = 0
    first_line = b""
    pending_blank = True  # at start of a line that has no content yet
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if not first_line:
                    first_line = chunk.split(b"\n", 1)[0]
                lines, pending_blank = _count_lines(chunk, lines, pending_blank)
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read: {exc}") from exc
    header: tuple[str, ...] = ()
    if entity_format(entity) is FileFormat.CSV:
        header = _parse_header(path, first_line, entity)
        lines = max(lines - 1, 0)
    return LandingFile(path, entity, digest.hexdigest(), size, lines, header)


def _count_lines(chunk: bytes, lines: int, pending_blank: bool) -> tuple[int, bool]:
    """Count lines with non-whitespace content, carrying state across chunk borders."""
    for part_index, part in enumerate(chunk.split(b"\n")):
        if part_index > 0:
            pending_blank = True
        if pending_blank and part.strip():
            lines += 1
            pending_blank = False
    return lines, pending_blank


def entity_format(entity: Entity) -> FileFormat:
    return next(s.format for s in SOURCES if s.name == entity.source)


def _parse_header(path: Path, first_line: bytes, entity: Entity) -> tuple[str, ...]:
    try:
        text = first_line.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: header line is not valid UTF-8 ({exc})") from exc
    header = tuple(h.strip() for h in next(csv.reader(io.StringIO(text)), []))
    if not header or not any(header):
        raise IngestError(f"{path}: empty file or missing header line")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes or "" in header:
        raise IngestError(f"{path}: header has duplicate or empty column names: {dupes or ['']}")
    if not set(header) & set(entity.columns):
        raise IngestError(
            f"{path}: header {list(header)[:6]}... shares no column with the declared "
            f"{entity.table} columns; is this a header line?"
        )
    return header
