"""Fault primitives: value variants, typos, malformed lines and invalid UTF-8.

Each function takes the clean value (or the serialised line) and a ``random.Random`` and returns
the faulty version. They are pure so each can be tested on its own, and each guarantees the
fault is real: a variant differs from the input, a malformed CSV line does not parse into the
declared number of columns, a malformed JSON line fails ``json.loads``, and corrupted bytes
fail ``bytes.decode("utf-8")``. Where a random choice could accidentally produce a valid
result, the function checks and falls back to a variant that cannot.
"""

from __future__ import annotations

import csv
import json
import random

from crm_lakehouse.synthetic import vocab

FAULT_KINDS: tuple[str, ...] = (
    "name_variant",
    "domain_variant",
    "email_variant",
    "typo",
    "missing_field",
    "provider_conflict",
    "stale_provider",
    "malformed_row",
    "invalid_utf8",
    "late_update",
)

_KEYBOARD_NEIGHBOURS = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


def name_variant(name: str, base: str, suffix: str, r: random.Random) -> str:
    """Another way the same legal name gets written: suffix spelled differently or dropped,
    case changed, punctuation added or removed, a leading "The "."""
    for _ in range(8):
        choice = r.randrange(7)
        if choice == 0 and suffix and suffix in vocab.SUFFIX_VARIANTS:
            alts = vocab.SUFFIX_VARIANTS[suffix]
            alt = alts[r.randrange(len(alts))]
            out = f"{base}{alt}" if alt.startswith(",") else f"{base} {alt}"
        elif choice == 1 and suffix:
            out = base
        elif choice == 2:
            out = name.upper()
        elif choice == 3:
            out = name.lower() if r.random() < 0.5 else name.title()
        elif choice == 4:
            out = f"The {name}"
        elif choice == 5 and " " in base:
            sep = ("-", "", " & ", ".")[r.randrange(4)]
            out = base.replace(" ", sep, 1) + (f" {suffix}" if suffix else "")
        elif choice == 6 and suffix:
            out = f"{base}, {suffix}"
        else:
            continue
        if out != name:
            return out
    return name.upper() if name.upper() != name else f"The {name}"


def domain_variant(value: str, r: random.Random) -> str:
    """A website field as people type it: a scheme, ``www.``, a trailing path or query,
    upper case, or nothing at all."""
    choice = r.randrange(6)
    if choice == 5:
        return ""
    host = value
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.removeprefix("www.")
    parts: list[str] = []
    if choice in (0, 4):
        parts.append(("http://", "https://", "https://www.", "http://www.")[r.randrange(4)])
    elif choice == 1:
        parts.append("www.")
    parts.append(host.upper() if choice == 3 else host.capitalize() if choice == 4 else host)
    if choice in (2, 4):
        parts.append(("/", "/about", "/en-us/", "/home.html", "?utm_source=crm")[r.randrange(5)])
    out = "".join(parts)
    return out if out != value else f"https://www.{host}/"


def email_variant(email: str, r: random.Random) -> str:
    """Same mailbox, different bytes: case changes and stray whitespace."""
    local, _, host = email.partition("@")
    choice = r.randrange(5)
    if choice == 0:
        out = email.upper()
    elif choice == 1:
        out = f"{local.title()}@{host.capitalize()}"
    elif choice == 2:
        out = f" {email}"
    elif choice == 3:
        out = f"{email} "
    else:
        out = f" {local.capitalize()}@{host} "
    return out if out != email else f" {email} "


def typo(value: str, r: random.Random) -> str:
    """One keyboard slip: substitute a neighbour key, drop, double or swap a letter."""
    letters = [i for i, ch in enumerate(value) if ch.isalpha()]
    if not letters:
        return value + "x"
    for _ in range(6):
        i = letters[r.randrange(len(letters))]
        ch = value[i]
        op = r.randrange(4)
        if op == 0:
            near = _KEYBOARD_NEIGHBOURS.get(ch.lower(), "e")
            rep = near[r.randrange(len(near))]
            out = value[:i] + (rep.upper() if ch.isupper() else rep) + value[i + 1 :]
        elif op == 1 and len(value) > 3:
            out = value[:i] + value[i + 1 :]
        elif op == 2:
            out = value[:i] + ch + value[i:]
        elif i + 1 < len(value):
            out = value[:i] + value[i + 1] + ch + value[i + 2 :]
        else:
            continue
        if out != value and out.strip():
            return out
    return value[:-1] + ("a" if value[-1] != "a" else "b")


# --------------------------------------------------------------------------- CSV lines


def csv_field(value: str) -> str:
    """RFC 4180 quoting, only when needed (how most exporters write)."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_columns(line: str, *, strict: bool = False) -> int | None:
    """Number of columns a standard CSV parser reads from one line; None if it raises.

    The lenient mode (Python's default, and close to what Spark's line-based reader does) never
    raises: an unclosed quote swallows the rest of the line.
    """
    try:
        rows = list(csv.reader([line], strict=strict))
    except csv.Error:
        return None
    return len(rows[0]) if rows else 0


CSV_MALFORMED = ("unquoted_comma", "truncated", "extra_delimiter", "unbalanced_quote")


def malformed_csv(
    values: list[str], text_idx: list[int], r: random.Random
) -> tuple[list[str], str]:
    """Line fragments (already quoted, joined with ``,`` by the caller) of a broken row.

    Variants: a comma inside an unquoted field (one column too many), a row cut short after
    some columns (the export died), an extra trailing delimiter, or a field that opens a quote
    and never closes it. The first field (the record id) always stays intact and readable. The
    result is checked with the ``csv`` module and replaced by a truncated row if a random choice
    happened to parse into the declared column count.
    """
    n = len(values)
    quoted = [csv_field(v) for v in values]
    variant = CSV_MALFORMED[r.randrange(len(CSV_MALFORMED))]
    frags = quoted
    candidates = [i for i in text_idx if 0 < i < n - 1 and values[i] and '"' not in values[i]]
    if variant == "unquoted_comma" and candidates:
        i = candidates[r.randrange(len(candidates))]
        v = values[i]
        frags = [
            *quoted[:i],
            v.replace(" ", ", ", 1) if " " in v else f"{v}, Inc",
            *quoted[i + 1 :],
        ]
    elif variant == "extra_delimiter":
        frags = [*quoted, ""]
    elif variant == "unbalanced_quote" and candidates:
        i = candidates[r.randrange(len(candidates))]
        frags = [*quoted[:i], '"' + values[i].replace(",", " "), *quoted[i + 1 :]]
    else:
        variant = "truncated"
    if variant == "truncated" or csv_columns(",".join(frags)) == n:
        variant = "truncated"
        frags = quoted[: 2 + r.randrange(max(1, n - 3))]
    return frags, variant


# --------------------------------------------------------------------------- JSON lines

JSON_MALFORMED = ("truncated", "trailing_comma", "unquoted_key", "missing_brace")


def malformed_json(line: str, keep_until: int, r: random.Random) -> tuple[str, str]:
    """A broken JSON object line: truncated mid-value, a trailing comma before the closing brace,
    an unquoted key, or the closing brace missing. Characters before ``keep_until`` (at least
    the ``"id":...`` member, and any placeholder for invalid bytes) are never cut."""
    variant = JSON_MALFORMED[r.randrange(len(JSON_MALFORMED))]
    out = line
    if variant == "truncated" and keep_until < len(line) - 2:
        cut = keep_until + 1 + r.randrange(len(line) - 2 - keep_until)
        out = line[:cut]
    elif variant == "trailing_comma":
        out = line[:-1] + ",}"
    elif variant == "unquoted_key":
        pos = line.find('":', keep_until)
        start = line.rfind('"', 0, pos) if pos > 0 else -1
        if start > keep_until:
            out = line[:start] + line[start + 1 : pos] + line[pos + 1 :]
        else:
            variant, out = "missing_brace", line[:-1]
    else:
        variant, out = "missing_brace", line[:-1]
    try:
        json.loads(out)
    except ValueError:
        return out, variant
    return line[:-1], "missing_brace"


# --------------------------------------------------------------------------- encodings


def corrupt_utf8(text: str, r: random.Random) -> bytes:
    """Bytes of ``text`` that are not valid UTF-8, the way they reach a lake in practice: the
    field was exported as Windows-1252 (``Müller`` -> ``M\\xfcller``), or a stray byte such as a
    cp1252 no-break space or registered sign was pasted in. Never produces ``"`` ``,`` ``\\``
    or line breaks, so the line's structure is unchanged."""
    if not text.isascii():
        out = text.encode("cp1252", errors="replace")
    else:
        choice = r.randrange(3)
        if choice == 0 and " " in text:
            i = text.index(" ")
            out = text[:i].encode() + b"\xa0" + text[i + 1 :].encode()
        elif choice == 1:
            out = text.encode() + b"\xae"
        else:
            i = r.randrange(len(text) + 1)
            out = text[:i].encode() + b"\xc3" + text[i:].encode()
    try:
        out.decode("utf-8")
    except UnicodeDecodeError:
        return out
    return out + b"\xff"
