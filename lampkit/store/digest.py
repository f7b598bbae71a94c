"""Content digests: one place for the sha256 of texts, JSON, byte parts, files and folders.

Cache keys, model and data fingerprints and the synthetic data's random streams all hash with
these functions, so that two places hashing the same content agree by construction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

__all__ = ["sha256_text", "sha256_json", "sha256_parts", "file_sha256", "tree_sha256", "stable_seed"]

_CHUNK = 1 << 20  # bytes read at a time from a file


def sha256_text(text: str) -> str:
    """Hex sha256 of ``text`` in UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any, **dumps: Any) -> str:
    """Hex sha256 of ``json.dumps(obj, **dumps)`` in UTF-8 (the caller's JSON options are part of the key)."""
    return sha256_text(json.dumps(obj, **dumps))


def sha256_parts(parts: Iterable[bytes | str]) -> str:
    """Hex sha256 of the parts one after the other (a ``str`` part in UTF-8): the caller frames them."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_sha256(root: str | Path, pattern: str = "*.json") -> str:
    """``sha256:<hex>`` over the files under ``root`` matching ``pattern``, in sorted order, each
    framed as its path relative to ``root``, a NUL byte and its bytes."""
    root = Path(root)
    files = sorted(p for p in root.rglob(pattern) if p.is_file())
    return "sha256:" + sha256_parts(part for p in files
                                    for part in (p.relative_to(root).as_posix().encode() + b"\0", p.read_bytes()))


def stable_seed(text: str) -> int:
    """A 64-bit seed from ``text``: the first 8 bytes of its sha256, big-endian (the same in every process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
