"""Interoperability: ODCS tooling (datacontract-cli's ``datacontract lint``) accepts our files.

Needs the ``datacontract-cli`` package (dev dependency). It validates each file against the ODCS
JSON schema of the file's apiVersion and warns about keys the standard does not know; our
extensions live in ``customProperties`` and ``arguments``, so the files must pass with no warning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


MISSING = (
    "datacontract-cli is not installed in this environment: it is a dev dependency "
    "(datacontract-cli==1.2.8, which needs python-dateutil<3)"
)


def _lint(path: Path) -> list[tuple[str, str, str | None]]:
    try:
        from datacontract.data_contract import DataContract
    except ImportError:  # a missing dev dependency must fail, not skip
        pytest.fail(MISSING)
    run = DataContract(data_contract_file=str(path)).lint()
    return [(str(c.result.value), c.name, c.reason) for c in run.checks]


def test_datacontract_lint_accepts_every_contract_without_warnings() -> None:
    files = sorted(CONTRACTS_DIR.glob("*/*.yaml"))
    assert len(files) >= 17
    not_passed = {
        str(path.relative_to(CONTRACTS_DIR)): [c for c in _lint(path) if c[0] != "passed"]
        for path in files
    }
    assert {k: v for k, v in not_passed.items() if v} == {}


def test_datacontract_lint_would_catch_a_contract_outside_the_standard(tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(
        (CONTRACTS_DIR / "silver" / "opportunities.yaml").read_text(encoding="utf-8")
    )
    doc["schema"][0]["quality"][0]["action"] = "fail"  # our extension outside customProperties
    doc["schema"][0]["properties"][0]["logicalType"] = "timestamp"  # not an ODCS v3.0 type
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    checks = _lint(path)
    assert any(result == "failed" and "timestamp" in (reason or "") for result, _, reason in checks)


def test_the_datacontract_command_itself_passes_a_contract() -> None:
    command = Path(sys.executable).parent / "datacontract"
    if not command.is_file():
        pytest.fail(MISSING)
    done = subprocess.run(
        [str(command), "lint", str(CONTRACTS_DIR / "gold" / "pipeline_summary.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid against ODCS v3.0.2" in done.stdout
