"""Shared generated landing folders (generated once per module run; the generator is pure
Python and takes well under a second at these scales)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_lakehouse.synthetic import GenerationReport, generate
from tests.unit.synthetic._support import DEFAULT_RATES

DAY1 = "2026-11-20"
DAY2 = "2026-11-21"
DAY3 = "2026-11-23"


@pytest.fixture(scope="session")
def two_days(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, GenerationReport, GenerationReport]:
    """A full dump and the next day's delta at scale 5000 with the default fault rates."""
    landing = tmp_path_factory.mktemp("landing")
    day1 = generate(landing, scale=5000, seed=11, date=DAY1, faults=DEFAULT_RATES)
    day2 = generate(landing, scale=5000, seed=11, date=DAY2, faults=DEFAULT_RATES)
    return landing, day1, day2
