"""One writer per lake: the run lock ``<lake>/_lock.json``.

The lock is a small JSON file created atomically (``O_CREAT | O_EXCL``), so of two runs that
start together exactly one creates it; the other raises :class:`LockHeldError` naming the
holder (run id, host, pid, since when). It holds::

    {"run_id": ..., "host": ..., "pid": ..., "started_at": ..., "heartbeat_at": ..., "command": ...}

A lock whose holder is gone is *stale* and is taken over (and logged):

* same host: the holder's pid no longer exists;
* another host (the pid cannot be checked from here): the holder has not refreshed
  ``heartbeat_at`` for longer than ``max_age``. A live holder refreshes it every
  ``heartbeat_interval`` seconds from a background thread, so only a dead run goes stale;
* an empty or unreadable lock file (its writer died between creating and writing it) older
  than :data:`UNREADABLE_GRACE`.

Checking for staleness and replacing the file happen while holding an exclusive ``flock`` on
the lake folder, so two runs that both find the same stale lock cannot both take it over (each
then creates the file with ``O_EXCL`` again). The lock is released in ``__exit__``, whatever
the run's outcome; a ``SIGKILL`` leaves it behind, which is exactly the stale case above.

Scope: a lake on a local (or NFS-like POSIX) filesystem, as the delta_rs adapter requires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from crm_lakehouse.errors import EnvironmentCheckError, LockHeldError

log = logging.getLogger(__name__)

LOCK_FILE = "_lock.json"
DEFAULT_MAX_AGE = dt.timedelta(hours=1)
DEFAULT_HEARTBEAT_SECONDS = 60.0
UNREADABLE_GRACE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock; what the lock file says."""

    run_id: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str
    command: str

    @classmethod
    def parse(cls, text: str) -> LockInfo:
        data = json.loads(text)
        return cls(
            run_id=str(data["run_id"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            started_at=str(data["started_at"]),
            heartbeat_at=str(data.get("heartbeat_at") or data["started_at"]),
            command=str(data.get("command", "")),
        )

    def describe(self) -> str:
        return (
            f"run {self.run_id} (host {self.host}, pid {self.pid}, since {self.started_at}, "
            f"last heartbeat {self.heartbeat_at}, command: {self.command or '?'})"
        )

    def heartbeat_age(self, now: dt.datetime) -> dt.timedelta:
        return now - dt.datetime.fromisoformat(self.heartbeat_at)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host (signal 0 probes, sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class LakeLock:
    """The lake's run lock, as a context manager::

        with LakeLock(lake_root, run_id):
            ...  # only this process runs steps on the lake

    ``run_id`` may change while held (a backfill runs one run per date): :meth:`update`
    rewrites the file. ``max_age`` is how long a lock held from *another* host may go without
    a heartbeat before it counts as abandoned.
    """

    def __init__(
        self,
        lake_root: Path,
        run_id: str,
        *,
        command: str | None = None,
        max_age: dt.timedelta = DEFAULT_MAX_AGE,
        heartbeat_seconds: float | None = DEFAULT_HEARTBEAT_SECONDS,
    ) -> None:
        if max_age <= dt.timedelta(0):
            raise ValueError(f"lock max age must be positive, got {max_age}")
        self.root = Path(lake_root)
        self.path = self.root / LOCK_FILE
        self.run_id = run_id
        self.command = command if command is not None else " ".join(sys.argv)
        self.max_age = max_age
        self.heartbeat_seconds = heartbeat_seconds
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = _now().isoformat()
        self.taken_over: LockInfo | None = None
        """The stale holder this lock replaced, if any (for the run ledger and the log)."""
        self._held = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # ------------------------------------------------------------------ public

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> LakeLock:
        """Take the lock, taking over a stale one; raise :class:`LockHeldError` if held, and
        :class:`EnvironmentCheckError` when the lake folder cannot hold a lock file."""
        try:
            self._acquire()
        except OSError as exc:
            raise EnvironmentCheckError(
                f"cannot take the run lock {self.path}: {exc.strerror or exc} (the lake folder "
                "must be on a writable local or POSIX filesystem)"
            ) from exc
        self._held = True
        log.info(
            "lock acquired on %s",
            self.root,
            extra={"event": "lock_acquired", "fields": {"lock": str(self.path)}},
        )
        if self.heartbeat_seconds:
            self._stop.clear()
            self._beat = threading.Thread(
                target=self._heartbeat_loop, name="lakehouse-lock-heartbeat", daemon=True
            )
            self._beat.start()
        return self

    def _acquire(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._guard():
            try:
                self._create()
            except FileExistsError:
                holder = self._read_holder()
                reason = self._stale_reason(holder)
                if reason is None:
                    assert holder is not None
                    raise LockHeldError(
                        f"the lake {self.root} is locked by {holder.describe()}. Wait for that "
                        f"run to finish; if it is dead on another host, remove {self.path} "
                        f"(it counts as abandoned after {self.max_age} without a heartbeat)"
                    ) from None
                log.warning(
                    "taking over a stale lock on %s: %s",
                    self.root,
                    reason,
                    extra={
                        "event": "lock_taken_over",
                        "fields": {"stale_holder": asdict(holder) if holder else None},
                    },
                )
                self.path.unlink(missing_ok=True)
                self.taken_over = holder
                try:
                    self._create()
                except FileExistsError:  # pragma: no cover - excluded by the guard
                    raise LockHeldError(
                        f"the lake {self.root} was locked by another run while taking over"
                    ) from None

    def update(self, run_id: str) -> None:
        """Record that the holder now runs ``run_id`` (also refreshes the heartbeat)."""
        self.run_id = run_id
        self.refresh()

    def refresh(self) -> None:
        """Rewrite the lock with a fresh heartbeat, if this process still holds it."""
        if not self._held:
            return
        with self._guard():
            if self._is_mine(self._read_holder()):
                self._write_replace()
            else:
                log.warning("the lock on %s is no longer ours; not refreshing it", self.root)

    def release(self) -> None:
        """Remove the lock if this process holds it (never another run's lock)."""
        if not self._held:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        with self._guard():
            holder = self._read_holder()
            if self._is_mine(holder):
                self.path.unlink(missing_ok=True)
            else:
                log.warning(
                    "not removing %s: it now belongs to %s",
                    self.path,
                    holder.describe() if holder else "nobody (unreadable)",
                )
        self._held = False
        log.info("lock released on %s", self.root, extra={"event": "lock_released"})

    def __enter__(self) -> LakeLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # ------------------------------------------------------------------ internals

    def _info(self) -> LockInfo:
        return LockInfo(
            run_id=self.run_id,
            host=self.host,
            pid=self.pid,
            started_at=self.started_at,
            heartbeat_at=_now().isoformat(),
            command=self.command,
        )

    def _payload(self) -> bytes:
        return (json.dumps(asdict(self._info()), indent=2) + "\n").encode()

    def _create(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, self._payload())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_replace(self) -> None:
        tmp = self.path.with_name(f"{LOCK_FILE}.{self.pid}.tmp")
        tmp.write_bytes(self._payload())
        os.replace(tmp, self.path)

    def _read_holder(self) -> LockInfo | None:
        """The lock's content, or None when the file is empty or unreadable."""
        try:
            return LockInfo.parse(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _is_mine(self, holder: LockInfo | None) -> bool:
        return holder is not None and (holder.host, holder.pid, holder.started_at) == (
            self.host,
            self.pid,
            self.started_at,
        )

    def _stale_reason(self, holder: LockInfo | None) -> str | None:
        """Why the existing lock is stale, or None when its holder may still be running."""
        now = _now()
        if holder is None:
            try:
                age = now - dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.UTC)
            except FileNotFoundError:
                return "the lock file vanished"
            if age > UNREADABLE_GRACE:
                return f"{self.path} is empty or unreadable and {age} old"
            raise LockHeldError(
                f"the lake {self.root} is being locked by another run ({self.path} is still "
                "being written); try again in a minute"
            )
        if holder.host == self.host:
            if not pid_alive(holder.pid):
                return f"{holder.describe()} is not running any more (no process {holder.pid})"
            return None
        age = holder.heartbeat_age(now)
        if age > self.max_age:
            return (
                f"{holder.describe()} has sent no heartbeat for {age} "
                f"(more than the maximum age {self.max_age})"
            )
        return None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """An exclusive flock on the lake folder around check-and-replace sequences."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
                except OSError as exc:  # pragma: no cover - interrupted by a signal
                    if exc.errno != errno.EINTR:
                        raise
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _heartbeat_loop(self) -> None:
        assert self.heartbeat_seconds
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.refresh()
            except OSError as exc:  # keep beating; the next attempt may work
                log.warning("could not refresh the lock %s: %s", self.path, exc)


def read_lock(lake_root: Path) -> LockInfo | None:
    """The current holder of the lake's lock, or None (for ``lakehouse status``)."""
    path = Path(lake_root) / LOCK_FILE
    try:
        return LockInfo.parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
