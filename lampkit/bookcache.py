"""Keep the book's execution cache honest about lampkit's code.

jupyter-cache reuses a notebook's outputs while its code cells are unchanged; it does not notice a
change in the lampkit package the notebooks call. ``python -m lampkit.bookcache book/`` (run by
``make book`` before ``jupyter-book build``) records lampkit's code version next to the execution
cache and clears that cache when the version differs, so every chapter reruns. Reruns stay cheap:
each pipeline stage reuses its artifacts from lampkit's own cache, which is keyed by the code of
the modules that stage depends on.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .version import code_version

__all__ = ["sync_execution_cache"]


def sync_execution_cache(book_dir: str | Path) -> bool:
    """Clear ``{book}/_build/.jupyter_cache`` when lampkit's code changed; True when cleared."""
    build = Path(book_dir) / "_build"
    stamp = build / ".lampkit-code-version"
    current = code_version()
    previous = stamp.read_text().strip() if stamp.exists() else None
    cleared = False
    if previous != current:
        cache = build / ".jupyter_cache"
        if cache.exists():
            shutil.rmtree(cache)
            cleared = True
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return cleared


if __name__ == "__main__":  # pragma: no cover
    book = sys.argv[1] if len(sys.argv) > 1 else "book"
    if sync_execution_cache(book):
        print(f"lampkit changed since the last build: cleared the execution cache of {book}")
