"""Same seed, scale and date sequence: byte-identical output, in any process; the delta never
depends on reading earlier delivered files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crm_lakehouse.synthetic import generate
from tests.unit.synthetic._support import DEFAULT_RATES, ZERO_RATES, tree_bytes
from tests.unit.synthetic.conftest import DAY1, DAY2, DAY3


def _run(landing: Path, seed: int, dates: tuple[str, ...] = (DAY1, DAY2)) -> dict[str, bytes]:
    for date in dates:
        generate(landing, scale=1500, seed=seed, date=date, faults=DEFAULT_RATES)
    return tree_bytes(landing)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", 21, (DAY1, DAY2, DAY3))
    b = _run(tmp_path / "b", 21, (DAY1, DAY2, DAY3))
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", 21, (DAY1,))
    b = _run(tmp_path / "b", 22, (DAY1,))
    key = f"salesforce/{DAY1}/accounts.csv"
    assert a[key] != b[key]
    assert a[f"_truth/{DAY1}/companies.csv"] != b[f"_truth/{DAY1}/companies.csv"]


def test_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from crm_lakehouse.synthetic import generate;"
        "from tests.unit.synthetic._support import DEFAULT_RATES;"
        "r = generate(Path(sys.argv[1]), scale=800, seed=4, date='2026-11-20', faults=DEFAULT_RATES);"
        "print(sorted((f.path, f.sha256) for f in r.files))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        res = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / hash_seed)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[3],
        )
        outputs.append(res.stdout)
    assert outputs[0] == outputs[1]
    assert all(
        (tmp_path / h / "_truth/2026-11-20/companies.csv").read_bytes()
        == (tmp_path / "1/_truth/2026-11-20/companies.csv").read_bytes()
        for h in ("1", "2")
    )


def test_delta_needs_only_the_earlier_manifest(tmp_path: Path) -> None:
    full = _run(tmp_path / "full", 8)
    # the same chain, but with every delivered day-1 file gone before day 2 is generated
    other = tmp_path / "other"
    generate(other, scale=1500, seed=8, date=DAY1, faults=DEFAULT_RATES)
    for p in other.rglob(f"{DAY1}/*"):
        if p.name != "manifest.json":
            p.unlink()
    generate(other, scale=1500, seed=8, date=DAY2, faults=DEFAULT_RATES)
    day2 = {k: v for k, v in full.items() if DAY2 in k}
    assert day2 == {k: v for k, v in tree_bytes(other).items() if DAY2 in k}


def test_rerunning_a_date_replaces_its_output(tmp_path: Path) -> None:
    generate(tmp_path, scale=600, seed=2, date=DAY1, faults=DEFAULT_RATES)
    assert list(tmp_path.rglob("*-redelivery.*"))
    first = tree_bytes(tmp_path)
    generate(tmp_path, scale=600, seed=2, date=DAY1, faults=DEFAULT_RATES)
    assert tree_bytes(tmp_path) == first
    generate(tmp_path, scale=600, seed=2, date=DAY1, faults=ZERO_RATES)
    assert not list(tmp_path.rglob("*-redelivery.*"))  # the old copy does not linger


def test_other_seed_or_scale_starts_a_new_world(tmp_path: Path) -> None:
    generate(tmp_path, scale=600, seed=2, date=DAY1, faults=DEFAULT_RATES)
    assert generate(tmp_path, scale=600, seed=3, date=DAY2, faults=DEFAULT_RATES).mode == "full"
    assert generate(tmp_path, scale=700, seed=2, date=DAY3, faults=DEFAULT_RATES).mode == "full"
    m = json.loads((tmp_path / "_truth" / DAY3 / "manifest.json").read_text())
    assert m["previous_dates"] == []


def test_sharded_run_writes_the_same_bytes(tmp_path: Path) -> None:
    """Worker processes each write a range of companies; the merged output equals the
    single-process output byte for byte (truth line numbers included)."""
    for workers, folder in ((1, "one"), (2, "two")):
        for date in (DAY1, DAY2):
            generate(
                tmp_path / folder,
                scale=2500,
                seed=13,
                date=date,
                faults=DEFAULT_RATES,
                workers=workers,
            )
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert one.keys() == two.keys()
    assert [k for k in one if one[k] != two[k]] == []
    assert not list((tmp_path / "two").rglob(".parts-*"))


def test_sharded_run_works_from_a_script_on_stdin(tmp_path: Path) -> None:
    """Workers are plain interpreters, so a caller whose ``__main__`` cannot be re-imported
    (stdin, notebooks, unguarded scripts) still works."""
    script = (
        "from pathlib import Path\n"
        "from crm_lakehouse.synthetic import generate\n"
        "from tests.unit.synthetic._support import DEFAULT_RATES\n"
        f"r = generate(Path({str(tmp_path)!r}), scale=600, seed=1, date='{DAY1}',"
        " faults=DEFAULT_RATES, workers=2)\n"
        "print(r.total_records)\n"
    )
    res = subprocess.run(
        [sys.executable, "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert res.returncode == 0, res.stderr
    assert int(res.stdout) > 500
