from __future__ import annotations

import pytest

from crm_lakehouse.config import load_settings
from crm_lakehouse.errors import EnvironmentCheckError
from crm_lakehouse.session import DELTA_EXTENSION, builder, check_java, parse_java_major

from ..conftest import CONF


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_check_java_finds_this_machines_java() -> None:
    assert check_java() >= 17


def test_check_java_explains_missing_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent-jdk")
    with pytest.raises(EnvironmentCheckError, match="Java 17 or newer"):
        check_java()


def test_check_java_rejects_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EnvironmentCheckError, match="is Java 17"):
        check_java(minimum=99)


def _options(b: object) -> dict[str, str]:
    return dict(b._options)  # type: ignore[attr-defined]


def test_local_builder_sets_master_ui_off_utc() -> None:
    opts = _options(builder(load_settings("local", CONF)))
    assert opts["spark.master"] == "local[*]"
    assert opts["spark.ui.enabled"] == "false"
    assert opts["spark.sql.session.timeZone"] == "UTC"
    assert opts["spark.sql.shuffle.partitions"] == "4"
    assert "spark.sql.extensions" not in opts


def test_cluster_builder_leaves_master_to_spark_submit_and_configures_delta() -> None:
    opts = _options(builder(load_settings("cluster", CONF)))
    assert "spark.master" not in opts
    assert opts["spark.sql.extensions"] == DELTA_EXTENSION
    assert opts["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")
