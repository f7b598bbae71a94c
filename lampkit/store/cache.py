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
from pathlib import Path
from typing import Any, Callable, Mapping

from filelock import FileLock

from lampkit.store.version import code_version
from lampkit.store.digest import sha256_text

__all__ = ["default_root", "ArtifactCache", "cache_key"]


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
