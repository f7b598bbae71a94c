"""SQLite files that several processes open at once: WAL mode, and a busy file waited for.

SQLite waits for another connection's lock through its busy handler, but a few steps return
"database is locked" at once instead: switching a new file to WAL mode while another process
creates it too, and some lock upgrades that SQLite refuses to avoid a deadlock. :func:`connect`
retries those set-up statements (the journal mode and the caller's schema) with a growing pause
until ``timeout_s`` has passed, then raises the last error.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["connect", "is_busy"]

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
