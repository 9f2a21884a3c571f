"""The store's file: what it is before SQLite touches it, who writes it, how to read it
without writing anything.

A writer (`dlarena run`) holds an exclusive `flock` on `<store>-lock` for as long as it is
open: two coordinators measuring into one store would time each other's cells, and the later
of two saves of a cell would replace the earlier. The kernel drops the lock when its holder
dies, however it dies, so a killed run never leaves a stale lock behind.

A reader never writes: not the store, not its folder. How it opens the file depends on what
is there (see `connect_for_reading`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Literal

from dlarena.errors import UsageError

SQLITE_HEADER = b"SQLite format 3\x00"
# A writer waits this long for another to finish before giving up: long enough for a reader
# (which holds the lock shared while it reads), far too short to wait out a run.
WRITER_WAIT_SECONDS = 10.0

FileKind = Literal["missing", "empty", "sqlite"]


def inspect(path: Path) -> FileKind:
    """What lies at `path`, read with plain file calls only; anything unusable is the user's
    to fix: a folder, a device, a text file, a name the system refuses."""
    try:
        if not path.exists():
            return "missing"
        if path.is_dir():
            raise UsageError(f"--db {path} is a directory, not an SQLite file")
        if not path.is_file():
            raise UsageError(f"--db {path} is not a regular file")
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        raise UsageError(f"cannot use --db {path}: {_reason(error)}") from None
    if not header:
        return "empty"
    if header != SQLITE_HEADER:
        raise UsageError(f"--db {path} is not a usable SQLite database (not SQLite's header)")
    return "sqlite"


def create_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot create the folder for --db {path}: {_reason(error)}") from None


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + "-lock")


class Lock:
    """An open lock file; `release` (or the process's death) lets the next one in."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def lock_for_writing(path: Path) -> Lock:
    """The writer's lock, created if need be; records the holder's pid for the next one."""
    lock = lock_path(path)
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UsageError(f"cannot write to --db {path}: {_reason(error)}") from None
    deadline = time.monotonic() + WRITER_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
            os.close(descriptor)
            raise UsageError(
                f"--db {path} is in use by another `dlarena run` (pid {holder or 'unknown'}): "
                "two at once would disturb each other's timings; wait for it to finish"
            ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return Lock(descriptor)


def _writer_is_active(path: Path) -> tuple[bool, Lock | None]:
    """Whether a writer holds the lock now; if none does, a shared hold on the lock that
    keeps one from starting while we read (None when the lock file does not exist)."""
    try:
        descriptor = os.open(lock_path(path), os.O_RDONLY)
    except OSError:
        return False, None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return True, None
    return False, Lock(descriptor)


def _uri(path: Path, *options: str) -> str:
    return path.resolve().as_uri() + "?" + "&".join(options)


def connect_for_reading(path: Path) -> tuple[sqlite3.Connection, Lock | None]:
    """A read-only connection, and the shared lock held while it is open, if any.

    - No writer, no unfinished writes (no `-wal` with content): `immutable=1`. SQLite then
      reads the file as it is, with no locks and no `-wal`/`-shm` files, so it works in a
      read-only folder and leaves nothing behind. It is safe only while nobody writes: our
      shared hold on the writer's lock keeps a `dlarena run` from starting until we close.
    - A writer at work, or a `-wal` left with content by one that died: `mode=ro`, which reads
      the write-ahead log through its `-shm` index as any reader of a live store must.
    - That fails when the `-shm` index is missing and the folder is read-only; then we read a
      private copy of the file and its log, in memory.
    """
    wal = path.with_name(path.name + "-wal")
    writing, lock = _writer_is_active(path)
    try:
        unfinished = wal.exists() and wal.stat().st_size > 0
    except OSError:
        unfinished = True
    if not writing and not unfinished:
        try:
            return sqlite3.connect(_uri(path, "mode=ro", "immutable=1"), uri=True), lock
        except sqlite3.Error:
            if lock is not None:
                lock.release()
            raise
    if lock is not None:
        lock.release()
    connection = sqlite3.connect(_uri(path, "mode=ro"), uri=True, timeout=30)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        connection.close()
        if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
            raise
        return _private_copy(path, wal), None
    return connection, None


def _private_copy(path: Path, wal: Path) -> sqlite3.Connection:
    with tempfile.TemporaryDirectory(prefix="dlarena-read-") as folder:
        copy = Path(folder) / "store.db"
        copy.write_bytes(path.read_bytes())
        with contextlib.suppress(FileNotFoundError):
            copy.with_name("store.db-wal").write_bytes(wal.read_bytes())
        return in_memory(sqlite3.connect(copy))


def in_memory(source: sqlite3.Connection) -> sqlite3.Connection:
    """A copy of the database in memory (the source is closed): free to change, never saved."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    try:
        source.backup(memory)
    finally:
        source.close()
    return memory


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return error.strerror or errno.errorcode.get(error.errno, str(error))
    return str(error)
