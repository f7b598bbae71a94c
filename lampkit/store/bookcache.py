"""Keep the book's execution cache honest about lampkit's code.

jupyter-cache reuses a notebook's outputs while its code cells are unchanged; it does not notice a
change in the lampkit package the notebooks call. Nor does Sphinx: it keeps the pages it read in
its pickled environment (``_build/.doctrees``) and reads again only the source files that changed,
so an unchanged notebook is neither read nor executed. ``python -m lampkit.store.bookcache book/`` (run
by ``make book`` before ``jupyter-book build``) records lampkit's code version in the build folder
and, when the version differs, clears both the execution cache and Sphinx's environment, so every
chapter reruns. Reruns stay cheap: each pipeline stage reuses its artifacts from lampkit's own
cache, which is keyed by the code of the modules that stage depends on.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from lampkit.store.version import code_version

__all__ = ["sync_execution_cache"]


# what a build keeps between runs: the execution cache and Sphinx's environment of read pages
STALE_ON_CHANGE = (".jupyter_cache", ".doctrees")


def sync_execution_cache(book_dir: str | Path) -> bool:
    """Clear ``{book}/_build/.jupyter_cache`` and ``.doctrees`` when lampkit's code changed; True when
    something was cleared."""
    build = Path(book_dir) / "_build"
    stamp = build / ".lampkit-code-version"
    current = code_version()
    previous = stamp.read_text().strip() if stamp.exists() else None
    cleared = False
    if previous != current:
        for name in STALE_ON_CHANGE:
            if (build / name).exists():
                shutil.rmtree(build / name)
                cleared = True
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return cleared


if __name__ == "__main__":  # pragma: no cover
    book = sys.argv[1] if len(sys.argv) > 1 else "book"
    if sync_execution_cache(book):
        print(f"lampkit changed since the last build: cleared the execution cache of {book}")
