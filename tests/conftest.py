"""Test fixtures: one SparkSession for the whole run, built by the library's own builder."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse.config import Settings, load_settings
from crm_lakehouse.session import builder

# Spark hands timestamps to Python as naive local times; pin the local zone so expectations hold
# on any machine.
os.environ["TZ"] = "UTC"
time.tzset()

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


@pytest.fixture(scope="session", autouse=True)
def pii_key() -> Iterator[str]:
    """A fixed PII key for the whole run (Gold hashes personal data with it), set in the
    environment as a deployment would, so subprocesses see it too; restored afterwards."""
    from crm_lakehouse.gold.pii import KEY_ENV, KEY_FILE_ENV

    saved = {k: os.environ.get(k) for k in (KEY_ENV, KEY_FILE_ENV)}
    os.environ[KEY_ENV] = "test-pii-key-not-a-secret-0123456789"
    os.environ.pop(KEY_FILE_ENV, None)
    yield os.environ[KEY_ENV]
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The real local settings, tuned for small test data."""
    return load_settings(
        "local",
        CONF,
        overrides={
            "paths": {"contracts": str(ROOT / "contracts")},
            "spark": {
                "master": "local[2]",
                "shuffle_partitions": 2,
                "conf": {"spark.default.parallelism": "2", "spark.driver.memory": "2g"},
            },
        },
    )


@pytest.fixture(scope="session")
def spark(base_settings: Settings) -> Iterator[SparkSession]:
    session = builder(base_settings).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose landing folder and lake live in a fresh temporary folder."""
    return base_settings.with_paths(landing=tmp_path / "landing", lake=tmp_path / "lake")
