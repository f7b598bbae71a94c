"""SQLite files that several processes open at once: WAL mode, and a busy file waited for.

SQLite waits for another connection's lock through its busy handler, but a few steps return
"database is locked" at once instead: switching a new file to WAL mode while another process
creates it too, and some lock upgrades that SQLite refuses to avoid a deadlock. :func:`connect`
retries those set-up statements (the journal mode and the caller's schema) with a growing pause
until ``timeout_s`` has passed, then raises the last error.

A file that SQLite cannot read (a bad header, a copy shorter than its page count) is found on open by
:func:`open_checked`: a cache that can be recomputed is moved aside to ``<file>.corrupt-<time>``
and started afresh, with a line on stderr naming both paths; a file the user passed is refused
with :class:`DamagedDatabase`, whose message names the file and the fix.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

from filelock import FileLock

__all__ = ["connect", "is_busy", "DamagedDatabase", "problem", "set_aside", "open_checked"]

_FIRST_PAUSE_S = 0.01
_LONGEST_PAUSE_S = 0.5


def is_busy(err: sqlite3.OperationalError) -> bool:
    """Whether ``err`` says another connection holds the file (locked or busy)."""
    text = str(err).lower()
    return "locked" in text or "busy" in text


def connect(path: str | Path, timeout_s: float = 120.0, schema: str = "") -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with ``schema`` (a script of statements) applied."""
    con = sqlite3.connect(path, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    pause = _FIRST_PAUSE_S
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            if schema:
                con.executescript(schema)
                con.commit()
            return con
        except sqlite3.OperationalError as err:
            if not is_busy(err) or time.monotonic() + pause > deadline:
                con.close()
                raise
            con.rollback()
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE_S)


class DamagedDatabase(sqlite3.DatabaseError):
    """A SQLite file that cannot be read; the message names the file, what is wrong and the fix."""


_MAGIC = b"SQLite format 3\x00"


def _suspicion(path: Path, size: int) -> str | None:
    """What the file's 100-byte header says is wrong, read in constant time: not SQLite's magic string,
    or fewer bytes than the pages the header counts (a truncated copy)."""
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_MAGIC):
        return "not an SQLite database: its header is not SQLite's"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if head[24:28] == head[92:96] and pages and size < page_size * pages:  # the page count is valid
        return f"truncated: {size:,} bytes where its header counts {pages:,} pages of {page_size:,}"
    return None


def _quick_check(path: Path) -> str | None:
    try:
        con = sqlite3.connect(path, timeout=120.0)
    except sqlite3.DatabaseError as err:
        return str(err)
    try:
        rows = [r[0] for r in con.execute("PRAGMA quick_check").fetchmany(3)]
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        con.close()
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows)


def problem(path: str | Path, thorough: bool = False) -> str | None:
    """What is wrong with the SQLite file at ``path`` (None: sound, absent or empty).

    The header is read first (a bad magic string, a file shorter than its page count); what it
    suspects, or with ``thorough`` every file, is confirmed by ``PRAGMA quick_check``, which reads
    every page. A suspicion that quick_check does not confirm (another process in the middle of a
    checkpoint) is no problem."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size == 0:
        return None
    suspicion = _suspicion(path, size)
    if suspicion is None and not thorough:
        return None
    found = _quick_check(path)
    if found is None:
        return None
    return f"{suspicion}; SQLite: {found}" if suspicion else found


def set_aside(path: str | Path) -> Path:
    """Move ``path`` (and its ``-wal``/``-shm`` companions) to ``<path>.corrupt-<UTC time>``; the new name."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, dest.with_name(dest.name + suffix))
    os.replace(path, dest)
    return dest


def open_checked(path: str | Path, what: str, rebuild: bool, fix: str = "") -> None:
    """Check the SQLite file at ``path`` before it is opened.

    Damaged and ``rebuild``: moved aside (:func:`set_aside`) and a line on stderr says so, so that
    the caller starts an empty file. Damaged otherwise: :class:`DamagedDatabase` naming ``what``,
    the path, the problem and ``fix``. Processes opening the same file at once agree through a
    lock file: one moves it aside, the others find the fresh file sound."""
    path = Path(path)
    if problem(path) is None:
        return
    with FileLock(str(path) + ".lock"):
        found = problem(path)
        if found is None:
            return
        if not rebuild:
            raise DamagedDatabase(f"{what} {path} is damaged ({found})" + (f"; {fix}" if fix else ""))
        dest = set_aside(path)
    sys.stderr.write(f"lampkit: warning: {what} {path} is damaged ({found}); moved it aside to {dest} "
                     f"and started a new one (its contents are recomputed)\n")
