"""scripts/package.py: what ``make package`` puts into dist/ and how the env build is checked.

The env archive itself (``make package-env``) is built and run for real by
tests/integration/test_spark_submit.py; here the code part is built into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look the module up
    spec.loader.exec_module(module)
    return module


pkg = _load()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pkg.write_manifest(out, pkg.build_code(out))
    return out


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_library_zip_holds_the_package_sources_only(dist: Path) -> None:
    names = _names(dist / "crm_lakehouse.zip")
    sources = sorted(
        p.relative_to(ROOT / "lib").as_posix()
        for p in (ROOT / "lib" / "crm_lakehouse").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert sorted(n for n in names if n.endswith(".py")) == sources
    assert "crm_lakehouse/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_conf_and_contracts_unpack_at_their_archive_root(dist: Path) -> None:
    conf = _names(dist / "conf.zip")
    assert {"base.yaml", "cluster.yaml", "rules/matching.yaml"} <= set(conf)
    contracts = _names(dist / "contracts.zip")
    assert "bronze/salesforce_accounts.yaml" in contracts
    assert not [n for n in conf + contracts if n.startswith(("conf/", "contracts/"))]


def test_jobs_and_scripts_are_copied_and_the_scripts_executable(dist: Path) -> None:
    jobs = sorted(p.name for p in (dist / "jobs").iterdir())
    assert jobs == sorted(p.name for p in (ROOT / "jobs").glob("*.py"))
    for script in ("install.sh", "crm-lakehouse-nightly.sh"):
        assert os.access(dist / "bin" / script, os.X_OK), script


def test_the_manifest_lists_every_output_with_its_hash(dist: Path) -> None:
    manifest = json.loads((dist / "manifest.json").read_text("utf-8"))
    assert manifest["version"] == pkg.project_version()
    files = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert pkg.sha256(dist / name) == digest, name


def test_a_rebuild_gives_the_same_bytes(dist: Path, tmp_path: Path) -> None:
    again = pkg.build_code(tmp_path)
    first = json.loads((dist / "manifest.json").read_text("utf-8"))["files"]
    assert again == first


def test_the_environment_leaves_out_what_the_cluster_provides() -> None:
    names = {r.split(">")[0].split("=")[0].split("<")[0] for r in pkg.runtime_requirements()}
    assert "deltalake" in names and "great-expectations" in names
    assert not {"pyspark", "delta-spark"} & names


def test_the_environment_must_match_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("deltalake==1.6.6\nPyYAML==6.0.3\n", encoding="utf-8")
    pins = pkg.read_lock(lock)
    pkg.check_against_lock({"deltalake": "1.6.6", "pyyaml": "6.0.3"}, pins, lock)
    with pytest.raises(pkg.PackagingError) as err:
        pkg.check_against_lock(
            {"deltalake": "1.6.5", "numpy": "2.0.0", "pyspark": "4.2.0"}, pins, lock
        )
    text = str(err.value)
    assert "deltalake==1.6.5 but requirements.lock pins 1.6.6" in text
    assert "numpy==2.0.0 is not pinned in requirements.lock" in text
    assert "pyspark==4.2.0 was installed, but the cluster provides it" in text


def test_a_bad_lock_line_is_named(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("deltalake==1.6.6\npandas>=2\n", encoding="utf-8")
    with pytest.raises(pkg.PackagingError, match=r"requirements.lock:2: expected 'name==version'"):
        pkg.read_lock(lock)
