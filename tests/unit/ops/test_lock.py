"""The lake's run lock: exclusive, names its holder, takes over stale locks, released on error."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crm_lakehouse.errors import EnvironmentCheckError, LockHeldError
from crm_lakehouse.ops.lock import LOCK_FILE, LakeLock, LockInfo, read_lock


def _lock(root: Path, run_id: str = "run-a", **kw: object) -> LakeLock:
    return LakeLock(
        root, run_id, command="lakehouse run --date 2026-11-20", heartbeat_seconds=None, **kw
    )  # type: ignore[arg-type]


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_holder(root: Path, **fields: object) -> None:
    root.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    data = {
        "run_id": "old-run",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": now,
        "heartbeat_at": now,
        "command": "lakehouse run --date 2026-11-19",
        **fields,
    }
    (root / LOCK_FILE).write_text(json.dumps(data), encoding="utf-8")


def test_acquire_writes_the_holder_and_release_removes_it(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with _lock(lake) as lock:
        holder = read_lock(lake)
        assert holder is not None
        assert (holder.run_id, holder.host, holder.pid) == (
            "run-a",
            socket.gethostname(),
            os.getpid(),
        )
        assert holder.command == "lakehouse run --date 2026-11-20"
        assert dt.datetime.fromisoformat(holder.started_at).tzinfo is not None
        assert lock.held and lock.taken_over is None
    assert not (lake / LOCK_FILE).exists()
    assert not lock.held


def test_a_second_run_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    with _lock(tmp_path, "run-a") as first:
        with pytest.raises(LockHeldError) as err:
            _lock(tmp_path, "run-b").acquire()
        message = str(err.value)
        assert "run run-a" in message
        assert f"host {socket.gethostname()}" in message
        assert f"pid {os.getpid()}" in message
        assert f"since {first.started_at}" in message
        assert err.value.exit_code == 5
        # The refused run did not disturb the holder's lock.
        holder = read_lock(tmp_path)
        assert holder is not None and holder.run_id == "run-a"
    assert not (tmp_path / LOCK_FILE).exists()


def test_lock_is_released_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="step blew up"), _lock(tmp_path):
        raise RuntimeError("step blew up")
    assert not (tmp_path / LOCK_FILE).exists()
    with _lock(tmp_path, "run-b"):  # free again
        assert read_lock(tmp_path).run_id == "run-b"  # type: ignore[union-attr]


def test_stale_lock_of_a_dead_process_on_this_host_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid = _dead_pid()
    _write_holder(tmp_path, pid=pid)
    with caplog.at_level(logging.WARNING, logger="crm_lakehouse.ops.lock"), _lock(tmp_path) as lock:
        assert lock.taken_over is not None and lock.taken_over.pid == pid
        assert read_lock(tmp_path).run_id == "run-a"  # type: ignore[union-attr]
    assert any(
        "taking over a stale lock" in r.getMessage() and f"no process {pid}" in r.getMessage()
        for r in caplog.records
    )


def test_lock_of_another_host_is_stale_only_after_max_age(tmp_path: Path) -> None:
    fresh = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    _write_holder(tmp_path, host="other-host", pid=1, heartbeat_at=fresh.isoformat())
    with pytest.raises(LockHeldError, match="host other-host"):
        _lock(tmp_path, max_age=dt.timedelta(minutes=30)).acquire()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    _write_holder(tmp_path, host="other-host", pid=1, heartbeat_at=old.isoformat())
    with _lock(tmp_path, max_age=dt.timedelta(minutes=30)) as lock:
        assert lock.taken_over is not None and lock.taken_over.host == "other-host"


def test_a_live_holder_on_this_host_is_never_stale_however_old(tmp_path: Path) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    _write_holder(
        tmp_path, pid=os.getpid(), started_at=old.isoformat(), heartbeat_at=old.isoformat()
    )
    with pytest.raises(LockHeldError, match="run old-run"):
        _lock(tmp_path, max_age=dt.timedelta(minutes=1)).acquire()


def test_an_unreadable_lock_is_waited_for_then_taken_over(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("", encoding="utf-8")
    with pytest.raises(LockHeldError, match="still being written"):
        _lock(tmp_path).acquire()
    long_ago = (dt.datetime.now() - dt.timedelta(minutes=10)).timestamp()
    os.utime(tmp_path / LOCK_FILE, (long_ago, long_ago))
    with _lock(tmp_path) as lock:
        assert lock.taken_over is None  # nobody could be named
        assert read_lock(tmp_path).run_id == "run-a"  # type: ignore[union-attr]


def test_release_never_removes_another_runs_lock(tmp_path: Path) -> None:
    lock = _lock(tmp_path).acquire()
    _write_holder(tmp_path, run_id="usurper", pid=_dead_pid())
    lock.release()
    assert read_lock(tmp_path).run_id == "usurper"  # type: ignore[union-attr]


def test_update_and_refresh_rewrite_the_run_id_and_heartbeat(tmp_path: Path) -> None:
    with _lock(tmp_path, "run-1") as lock:
        path = tmp_path / LOCK_FILE
        data = json.loads(path.read_text())
        data["heartbeat_at"] = "2000-01-01T00:00:00+00:00"
        path.write_text(json.dumps(data))
        lock.update("run-2")
        holder = LockInfo.parse(path.read_text())
        assert holder.run_id == "run-2"
        assert holder.started_at == lock.started_at
        assert holder.heartbeat_at > "2000-01-01T00:00:00+00:00"


@pytest.mark.parametrize("stale_first", [False, True], ids=["free", "stale"])
def test_of_many_simultaneous_runs_exactly_one_gets_the_lock(
    tmp_path: Path, stale_first: bool
) -> None:
    if stale_first:
        _write_holder(tmp_path, pid=_dead_pid())
    start = threading.Barrier(8)
    won: list[LakeLock] = []
    refused: list[str] = []

    def contender(i: int) -> None:
        lock = _lock(tmp_path, f"run-{i}")
        start.wait()
        try:
            won.append(lock.acquire())
        except LockHeldError:
            refused.append(f"run-{i}")

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert read_lock(tmp_path).run_id == won[0].run_id  # type: ignore[union-attr]
    won[0].release()
    assert not (tmp_path / LOCK_FILE).exists()


def test_taking_over_a_stale_lock_waits_for_the_lake_folder_flock(tmp_path: Path) -> None:
    """Check-then-replace of a stale lock is serialised by an flock on the lake folder, so two
    runs that both find the same stale lock cannot both take it over."""
    _write_holder(tmp_path, pid=_dead_pid())
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as if another run were half way through a takeover
    lock = _lock(tmp_path, "run-late")
    taker = threading.Thread(target=lock.acquire)
    try:
        taker.start()
        taker.join(timeout=1.0)
        assert taker.is_alive(), "took over the stale lock without waiting for the flock"
        assert read_lock(tmp_path).run_id == "old-run"  # type: ignore[union-attr]
    finally:
        os.close(fd)  # releases the flock
    taker.join()
    assert lock.held and read_lock(tmp_path).run_id == "run-late"  # type: ignore[union-attr]
    lock.release()


def test_a_lake_that_cannot_hold_a_lock_is_an_environment_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(EnvironmentCheckError, match="cannot take the run lock") as err:
        _lock(blocker / "lake").acquire()
    assert err.value.exit_code == 2


def test_max_age_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        LakeLock(tmp_path, "r", max_age=dt.timedelta(0))
