"""Synthetic revenue-operations data with ground truth, at any scale, from a seed.

:func:`generate` writes one date's deliveries of all five sources into the landing layout of
:mod:`crm_lakehouse.sources` (``<landing>/<source>/<date>/<entity>.<csv|jsonl>``, columns
exactly as registered) and ``<landing>/_truth/<date>/`` with:

* ``companies.csv`` and ``people.csv``: every true entity with its true attribute values as of
  that date (E.164 phones, ISO2 countries, NAICS sector codes, USD revenue);
* ``source_records.csv``: every record delivered that date, malformed ones included, mapped to
  its true entity (``source, entity, source_id, entity_kind, true_id, company_id, change,
  faults, file, line``);
* ``manifest.json``: :class:`GenerationReport` (files, row/malformed/invalid-UTF-8 counts,
  fault counts and their denominators, redelivered copies, schema changes, chain of dates).

The first date of a seed and scale is a full dump of about ``scale`` records; later dates are
deltas of the same world (updates, new records, deletions, late-arriving older versions,
provider refreshes, an added column). Output is byte-identical for the same seed, scale and
date sequence, and no earlier delivered file is ever read back.

Modules: :mod:`.world` (true entities and their records over time), :mod:`.render` (source
formats and per-record faults), :mod:`.faults` (fault primitives), :mod:`.writer` (streaming
files, malformed lines, invalid bytes), :mod:`.truth` (truth tables, earlier manifests),
:mod:`.report` (the report / manifest), :mod:`.generate` (the one-pass, optionally sharded,
driver), :mod:`.vocab` (reference vocabularies), :mod:`.rand` (keyed randomness).
"""

from __future__ import annotations

from crm_lakehouse.synthetic.generate import generate
from crm_lakehouse.synthetic.report import FileReport, GenerationReport, SchemaChange

__all__ = ["FileReport", "GenerationReport", "SchemaChange", "generate"]
