"""Build what ``spark-submit`` needs into ``dist/``.

Usage::

    .venv/bin/python scripts/package.py code [--dist dist]
    .venv/bin/python scripts/package.py env  [--dist dist] [--python /usr/bin/python3.11]

``code`` (``make package``, a second or two) writes:

* ``dist/crm_lakehouse.zip``: the library, pure Python, for ``--py-files``;
* ``dist/jobs/*.py``: the entry points (``jobs/``), the application file of ``spark-submit``;
* ``dist/conf.zip`` and ``dist/contracts.zip``: the contents of ``conf/`` and ``contracts/``
  (what the driver reads), for ``--archives dist/conf.zip#conf,dist/contracts.zip#contracts``:
  unpacked as ``./conf`` and ``./contracts`` in the driver's working directory, where the
  defaults of ``--conf-dir`` and ``paths.contracts`` (and the rules in ``conf/rules``) look;
* ``dist/bin/``: ``install.sh`` (lays out a host or image for client mode) and
  ``crm-lakehouse-nightly.sh`` (the cron / Kubernetes CronJob wrapper), from ``deploy/``;
* ``dist/manifest.json``: version, git commit and SHA-256 of every file above.

``env`` (``make package-env``, a few minutes) writes ``dist/crm-lakehouse-env.tar.gz``: a
``venv-pack`` archive of the runtime dependencies (``[project].dependencies`` of
``pyproject.toml`` at the versions pinned in ``requirements.lock``) without pyspark and
delta-spark, which the cluster provides. deltalake, pyarrow and numpy carry native code, so
they cannot travel in a ``--py-files`` zip; ship the archive with ``--archives
dist/crm-lakehouse-env.tar.gz#environment`` and ``spark.pyspark.python=./environment/bin/python``.
venv-pack does not copy the interpreter: ``bin/python`` links to the Python 3.11 the env was
built with (``--python``; default: the one running this script), which must exist at that
path on every node. (venv-pack's own ``--python-prefix`` rewrites a Python 3.11 venv's link
to ``<prefix>/bin/python3.113.11``, so it is not offered.)

Zip archives are reproducible: entries sorted, fixed timestamps, so the same sources give the
same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "crm_lakehouse"
LIB_ZIP = "crm_lakehouse.zip"
CONF_ZIP = "conf.zip"
CONTRACTS_ZIP = "contracts.zip"
ENV_ARCHIVE = "crm-lakehouse-env.tar.gz"
MANIFEST = "manifest.json"
SCRIPTS = ("deploy/install.sh", "deploy/cron/crm-lakehouse-nightly.sh")
# Provided by the cluster: Spark brings pyspark (SPARK_HOME/python/lib) and the Delta connector
# comes as JVM jars (--packages); the library never imports delta-spark's Python wrapper.
PROVIDED_BY_CLUSTER = frozenset({"pyspark", "delta-spark"})
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_SKIP_PARTS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache"})


class PackagingError(Exception):
    """A packaging step could not be done; the message says which and why."""


def _files(folder: Path, suffixes: Iterable[str] | None = None) -> Iterator[Path]:
    """Files under ``folder`` in a stable order, without caches and compiled files."""
    wanted = tuple(suffixes) if suffixes else None
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _SKIP_PARTS & set(path.parts) or path.suffix == ".pyc":
            continue
        if wanted is None or path.name.endswith(wanted):
            yield path


def write_zip(target: Path, entries: Iterable[tuple[str, Path]]) -> int:
    """Write ``(name in archive, file)`` entries to ``target`` reproducibly; return the count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    count = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
            count += 1
    tmp.replace(target)
    return count


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def project_version(root: Path = ROOT) -> str:
    return str(tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["version"])


def git_commit(root: Path = ROOT) -> str | None:
    """The checked-out commit, with ``-dirty`` when the work tree has changes; None without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def build_code(dist: Path, root: Path = ROOT) -> dict[str, str]:
    """Write the library zip, the job files and the conf and contracts zips; return hashes."""
    lib = root / "lib" / PACKAGE
    if not (lib / "__init__.py").is_file():
        raise PackagingError(f"{lib}: not a Python package (no __init__.py)")
    jobs = sorted((root / "jobs").glob("*.py"))
    if not jobs:
        raise PackagingError(f"{root / 'jobs'}: no job files (*.py)")
    for folder in ("conf", "contracts"):
        if not (root / folder).is_dir():
            raise PackagingError(f"{root / folder}: folder missing")
    for script in SCRIPTS:
        if not (root / script).is_file():
            raise PackagingError(f"{root / script}: file missing")

    dist.mkdir(parents=True, exist_ok=True)
    lib_entries = [
        (p.relative_to(lib.parent).as_posix(), p)
        for p in _files(lib)
        if p.suffix == ".py" or p.name == "py.typed"
    ]
    write_zip(dist / LIB_ZIP, lib_entries)

    jobs_dir, bin_dir = dist / "jobs", dist / "bin"
    for out_dir in (jobs_dir, bin_dir):
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir()
    for job in jobs:
        shutil.copyfile(job, jobs_dir / job.name)
    for script in SCRIPTS:
        target = bin_dir / Path(script).name
        shutil.copyfile(root / script, target)
        target.chmod(0o755)

    for folder, name in (("conf", CONF_ZIP), ("contracts", CONTRACTS_ZIP)):
        write_zip(
            dist / name,
            [(p.relative_to(root / folder).as_posix(), p) for p in _files(root / folder)],
        )

    outputs = [
        dist / LIB_ZIP,
        dist / CONF_ZIP,
        dist / CONTRACTS_ZIP,
        *sorted(jobs_dir.glob("*.py")),
        *sorted(bin_dir.iterdir()),
    ]
    return {p.relative_to(dist).as_posix(): sha256(p) for p in outputs}


def write_manifest(dist: Path, files: dict[str, str], root: Path = ROOT) -> Path:
    """``dist/manifest.json``: what was built from which commit (hashes of every output)."""
    path = dist / MANIFEST
    previous = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    merged = {**previous.get("files", {}), **files}
    merged = {name: digest for name, digest in merged.items() if (dist / name).is_file()}
    manifest = {
        "name": "crm-lakehouse",
        "version": project_version(root),
        "commit": git_commit(root),
        "files": dict(sorted(merged.items())),
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def runtime_requirements(root: Path = ROOT) -> list[str]:
    """``[project].dependencies`` less what the cluster provides, extras dropped."""
    deps = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    out = []
    for text in deps:
        req = Requirement(text)
        if canonicalize_name(req.name) in PROVIDED_BY_CLUSTER:
            continue
        out.append(f"{req.name}{req.specifier}" + (f"; {req.marker}" if req.marker else ""))
    return out


def read_lock(lock: Path) -> dict[str, str]:
    """``name==version`` lines of a pip lock file, by canonical name."""
    pins: dict[str, str] = {}
    for n, raw in enumerate(lock.read_text("utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if not m:
            raise PackagingError(f"{lock}:{n}: expected 'name==version', found {raw!r}")
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def check_against_lock(frozen: Mapping[str, str], pins: Mapping[str, str], lock: Path) -> None:
    """Every package installed in the env must be pinned by the lock at the same version."""
    problems = []
    for name, version in sorted(frozen.items()):
        if name in PROVIDED_BY_CLUSTER:
            problems.append(f"{name}=={version} was installed, but the cluster provides it")
        elif name not in pins:
            problems.append(f"{name}=={version} is not pinned in {lock.name}")
        elif pins[name] != version:
            problems.append(f"{name}=={version} but {lock.name} pins {pins[name]}")
    if problems:
        raise PackagingError(
            "the runtime environment does not match the lock:\n  - " + "\n  - ".join(problems)
        )


def build_env(
    dist: Path,
    root: Path = ROOT,
    lock: Path | None = None,
    python: str | None = None,
    work: Path | None = None,
) -> dict[str, str]:
    """Install the runtime dependencies into a fresh venv and pack it with venv-pack."""
    lock = lock or root / "requirements.lock"
    pins = read_lock(lock)
    venv_pack = Path(sys.executable).with_name("venv-pack")
    if not venv_pack.is_file():
        raise PackagingError(
            f"{venv_pack} not found: venv-pack is pinned in requirements.lock ('make install')"
        )
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crm-lakehouse-env-", dir=work) as tmp:
        venv = Path(tmp) / "env"
        interpreter = python or sys.executable
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        found = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if found != ["3", "11"]:
            raise PackagingError(f"{interpreter}: Python {'.'.join(found)}, not 3.11")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run(
            [*pip, "install", "--quiet", "-c", str(lock), *runtime_requirements(root)], check=True
        )
        freeze = subprocess.run(
            [*pip, "freeze", "--all", "--exclude", "pip", "--exclude", "setuptools"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        frozen = {
            str(canonicalize_name(name)): version
            for name, version in (line.split("==", 1) for line in freeze.splitlines() if line)
        }
        check_against_lock(frozen, pins, lock)
        target = dist / ENV_ARCHIVE
        cmd = [str(venv_pack), "--prefix", str(venv), "--output", str(target), "--force", "-q"]
        subprocess.run(cmd, check=True)
        target.chmod(0o644)
    return {ENV_ARCHIVE: sha256(target)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["code", "env"], help="what to build")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument(
        "--python",
        help="env only: the Python 3.11 to build the env with; the archive's bin/python links "
        "to it, so it must sit at the same path on the nodes (default: this script's Python)",
    )
    args = parser.parse_args(argv)
    try:
        if args.what == "code":
            files = build_code(args.dist)
        else:
            files = build_env(args.dist, python=args.python)
    except PackagingError as exc:
        print(f"package: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"package: error: {' '.join(map(str, exc.cmd))} exited {exc.returncode}",
            file=sys.stderr,
        )
        return 2
    write_manifest(args.dist, files)
    for name in files:
        size = (args.dist / name).stat().st_size
        shown = f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} kB"
        print(f"  {args.dist / name}  ({shown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
