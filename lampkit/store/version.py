"""lampkit's release and code versions (the code version keys cached artifacts)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lampkit.store.digest import sha256_parts

__all__ = ["__version__", "code_version"]

__version__ = "0.1.0"

_PKG = Path(__file__).resolve().parent.parent  # the lampkit package


def _files(module: str) -> list[Path]:
    rel = module.replace("lampkit.", "", 1).replace(".", "/") if module != "lampkit" else ""
    target = _PKG / rel
    if target.is_dir():
        return sorted(p for p in target.rglob("*.py"))
    path = target.with_suffix(".py")
    if not path.exists():
        raise ValueError(f"code_version: no lampkit module {module!r} ({path})")
    return [path]


@lru_cache(maxsize=None)
def code_version(*modules: str) -> str:
    """sha256 (16 hex digits) of the source of the named lampkit modules (default: all of lampkit).

    A stage keys its cached artifacts with the modules it depends on, so a change in lampkit
    invalidates the artifacts it affects and no others.
    """
    names = modules or ("lampkit",)
    paths = list(dict.fromkeys(path for name in sorted(names) for path in _files(name)))
    return sha256_parts(part for path in paths
                        for part in (path.relative_to(_PKG).as_posix().encode(), b"\0", path.read_bytes(), b"\0"))[:16]
