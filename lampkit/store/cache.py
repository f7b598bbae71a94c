"""A content-addressed artifact cache shared by every stage of the pipeline.

An artifact lives in ``{root}/{stage}/{key}/`` where ``key`` hashes the stage's inputs, its
configuration and the code version of the lampkit modules it depends on. A folder is built
in a temporary sibling and renamed into place when complete, under a file lock, so two
processes (two chapters side by side) never see or build half an artifact twice.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from filelock import FileLock

from lampkit.store.version import code_version
from lampkit.store.digest import sha256_text

__all__ = ["default_root", "ArtifactCache", "cache_key", "CacheEntry", "entries", "clear"]


def default_root() -> Path:
    """``$LAMPKIT_CACHE`` if set, else ``~/.cache/lampkit``."""
    env = os.environ.get("LAMPKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lampkit"


def _canonical(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return _canonical({k: getattr(obj, k) for k in obj.__dataclass_fields__})
    raise TypeError(f"cache key part of type {type(obj).__name__} is not supported: {obj!r}")


def cache_key(stage: str, config: Mapping[str, Any], modules: tuple[str, ...] = ()) -> str:
    """Hex key of a stage's artifact: its name, configuration and the code it depends on."""
    payload = {"stage": stage, "config": _canonical(config), "code": code_version(*modules)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return sha256_text(text)[:24]


class ArtifactCache:
    """Folders of artifacts keyed by content; built once, atomically."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def get_or_build(self, stage: str, config: Mapping[str, Any], build: Callable[[Path], None],
                     modules: tuple[str, ...] = ()) -> Path:
        """The artifact folder for ``(stage, config, code)``; ``build(tmp_dir)`` fills it when missing."""
        key = cache_key(stage, config, modules)
        final = self.path(stage, key)
        if (final / ".complete").exists():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if (final / ".complete").exists():
                return final
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
            try:
                build(tmp)
                (tmp / "config.json").write_text(
                    json.dumps({"stage": stage, "config": _canonical(config),
                                "code": code_version(*modules)}, indent=1, sort_keys=True))
                (tmp / ".complete").write_text(key)
                if final.exists():  # an incomplete leftover of an interrupted build
                    shutil.rmtree(final)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final


# what the cache's entries hold, for ``lampkit cache info`` (other stage folders: artifacts of that stage)
KNOWN_ENTRIES = {
    "embeddings.sqlite": "text embeddings, per encoder (recomputed when missing)",
    "feedback.sqlite": "the frozen LLM's outputs and metrics per prompt (recomputed when missing)",
    "mini-lamp": "the embedded mini-LaMP benchmark, per scale and seed",
}
_COMPANIONS = ("-wal", "-shm", ".lock")


@dataclass(frozen=True)
class CacheEntry:
    """One entry of the cache root: a stage's folder of artifacts, or a file with its companions."""

    name: str
    paths: tuple[Path, ...]
    size: int  # bytes, companions and folder contents included
    items: int  # artifacts in a folder (its complete builds); 1 for a file

    @property
    def folder(self) -> bool:
        """Whether the entry is a stage's folder (else a file and its companions)."""
        return self.paths[0].is_dir()

    @property
    def what(self) -> str:
        if ".corrupt-" in self.name:
            return "a damaged file set aside (safe to clear)"
        return KNOWN_ENTRIES.get(self.name, "artifacts of this stage" if self.folder else "file")


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def entries(root: str | Path | None = None) -> list[CacheEntry]:
    """The cache's entries (by name): stage folders, and files grouped with their ``-wal``, ``-shm``
    and ``.lock`` companions."""
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        return []
    groups: dict[str, list[Path]] = {}
    names = {p.name for p in root.iterdir()}
    for p in sorted(root.iterdir()):
        base = p.name
        for suffix in _COMPANIONS:
            if base.endswith(suffix) and base[: -len(suffix)] in names:
                base = base[: -len(suffix)]
                break
        groups.setdefault(base, []).append(p)
    out = []
    for name, paths in groups.items():
        main = root / name
        items = (sum(1 for k in main.iterdir() if (k / ".complete").exists()) if main.is_dir() else 1)
        out.append(CacheEntry(name, tuple(paths), sum(_size(p) for p in paths), items))
    return out


def clear(names: Sequence[str] = (), root: str | Path | None = None) -> list[CacheEntry]:
    """Remove the named entries of the cache (none named: all of them); the entries removed.

    An unknown name is a :class:`KeyError` listing the entries, checked before anything is removed."""
    found = {e.name: e for e in entries(root)}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise KeyError(f"no cache entry {unknown[0]!r} in {Path(root) if root else default_root()}; entries: "
                       f"{', '.join(found) or 'none'}")
    chosen = [found[n] for n in dict.fromkeys(names)] if names else list(found.values())
    for entry in chosen:
        for path in entry.paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    return chosen
