"""Streaming file writers for delivered files and truth tables.

Files are written in binary so that injected invalid UTF-8 bytes reach the disk as they are.
Rows are buffered and flushed in chunks (bounded memory at any scale) and hashed as they are
written. Every record is exactly one physical line terminated by ``\\n``: no value contains a
line break, so "data rows" equals "lines after the header" even for malformed rows.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from crm_lakehouse.synthetic.faults import corrupt_utf8, csv_field, malformed_csv, malformed_json

_FLUSH_ROWS = 4096
_PLACEHOLDER = "\ue000"  # a private-use character no vocabulary contains
_PLACEHOLDER_BYTES = _PLACEHOLDER.encode("utf-8")


class Sink:
    """Base of the writers: buffering, hashing and row counters."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        self._hash = hashlib.sha256()
        self._buf: list[bytes] = []
        self.rows = 0
        self.malformed_rows = 0
        self.invalid_utf8_rows = 0
        self.bytes = 0

    def _emit(self, data: bytes) -> None:
        self._buf.append(data)
        self.rows += 1
        if len(self._buf) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            chunk = b"".join(self._buf)
            self._buf.clear()
            self._f.write(chunk)
            self._hash.update(chunk)
            self.bytes += len(chunk)

    def _raw(self, data: bytes) -> None:
        """Bytes that are not a data row (a CSV header)."""
        self.flush()
        self._f.write(data)
        self._hash.update(data)
        self.bytes += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self.flush()
        self._f.close()

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class CsvSink(Sink):
    """A CSV file with a header line; rows quoted only where needed (RFC 4180)."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(path)
        self.columns = tuple(columns)
        self._raw((",".join(csv_field(c) for c in self.columns) + "\n").encode("utf-8"))

    def write(
        self,
        values: Sequence[str],
        text_idx: Sequence[int] = (),
        malformed: random.Random | None = None,
        invalid_utf8: random.Random | None = None,
    ) -> str | None:
        """Write one row; with ``malformed`` break its structure, with ``invalid_utf8`` put
        non-UTF-8 bytes into one text column. Returns the malformed variant, if any."""
        if malformed is None and invalid_utf8 is None:
            line = ",".join(values)
            if '"' in line or "\n" in line or "\r" in line or line.count(",") != len(values) - 1:
                line = ",".join([csv_field(v) for v in values])  # some value needs quoting
            self._emit((line + "\n").encode("utf-8"))
            return None
        variant = None
        if malformed is not None:
            frags, variant = malformed_csv(list(values), list(text_idx), malformed)
            self.malformed_rows += 1
        else:
            frags = [csv_field(v) for v in values]
        parts = [f.encode("utf-8") for f in frags]
        if invalid_utf8 is not None:
            usable = [i for i in text_idx if i < len(frags) and frags[i]]
            i = usable[invalid_utf8.randrange(len(usable))] if usable else len(frags) - 1
            parts[i] = corrupt_utf8(frags[i] or "x", invalid_utf8)
            self.invalid_utf8_rows += 1
        self._emit(b",".join(parts) + b"\n")
        return variant


class JsonlSink(Sink):
    """One JSON object per line, compact separators, UTF-8 (non-ASCII written as is)."""

    def write(
        self,
        obj: dict[str, object],
        text_paths: Sequence[tuple[str, ...]] = (),
        malformed: random.Random | None = None,
        invalid_utf8: random.Random | None = None,
    ) -> str | None:
        if malformed is None and invalid_utf8 is None:
            self._emit(
                (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            )
            return None
        original = None
        if invalid_utf8 is not None:
            usable = [p for p in text_paths if isinstance(_get(obj, p), str) and _get(obj, p)]
            path = usable[invalid_utf8.randrange(len(usable))] if usable else ("id",)
            original = str(_get(obj, path))
            _set(obj, path, _PLACEHOLDER)
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        variant = None
        if malformed is not None:
            keep = line.index(",") if "," in line else 1
            if original is not None:
                keep = max(keep, line.index(_PLACEHOLDER) + 1)
            line, variant = malformed_json(line, keep, malformed)
            self.malformed_rows += 1
        data = line.encode("utf-8")
        if original is not None and invalid_utf8 is not None:
            escaped = json.dumps(original, ensure_ascii=False)[1:-1]
            data = data.replace(_PLACEHOLDER_BYTES, corrupt_utf8(escaped, invalid_utf8))
            self.invalid_utf8_rows += 1
        self._emit(data + b"\n")
        return variant


def copy_rows(path: Path, sink: Sink, *, skip_header: bool) -> None:
    """Append the data lines of an already written file (a shard) to ``sink``, hashing them as
    they go. Row counters are the caller's business: the shard reported its own."""
    with open(path, "rb") as f:
        if skip_header:
            f.readline()
        while chunk := f.read(1 << 20):
            sink._raw(chunk)


def _get(obj: dict[str, object], path: tuple[str, ...]) -> object:
    cur: object = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _set(obj: dict[str, object], path: tuple[str, ...], value: object) -> None:
    cur: object = obj
    for key in path[:-1]:
        assert isinstance(cur, dict)
        cur = cur[key]
    assert isinstance(cur, dict)
    cur[path[-1]] = value
