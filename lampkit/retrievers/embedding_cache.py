"""A persistent cache of text embeddings, keyed by encoder, max length and the exact text.

The users of a LaMP split share their profile across the train, dev and test inputs, and every
retriever, ROPG round and chapter embeds those same profile texts again; the cache embeds each
distinct text once per encoder. Entries live in one SQLite table (``key`` = sha256 of the
encoder's ``model_id``, ``max_length`` and the text; ``dim``; ``vec``, little-endian float32) in
WAL mode, so several processes read and write at once: writes are ``INSERT OR IGNORE`` (an
embedding that another process stored first is kept) and a busy database is waited for.
``EmbeddingCache()`` without a path keeps entries in memory.

Cache only a frozen encoder: ``model_id`` names the weights as loaded, not later updates.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

from lampkit.store import sqlite
from lampkit.store.cache import default_root
from lampkit.store.digest import sha256_text

__all__ = ["TextEncoder", "EmbeddingCache", "CachedEncoder", "embedding_key", "default_cache_path"]

_LOOKUP_CHUNK = 500  # keys per SELECT (below SQLite's bound on query parameters)
_TIMEOUT_S = 120.0  # how long a connection waits for another process's write lock
_VEC = np.dtype("<f4")
_SCHEMA = "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER NOT NULL, vec BLOB NOT NULL);"


class TextEncoder(Protocol):
    """Anything that embeds texts: ``model_id`` names it, ``encode`` returns [n, dim] floats."""

    model_id: str

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
               show_progress: bool = False) -> np.ndarray: ...


def default_cache_path() -> Path:
    """``{lampkit cache root}/embeddings.sqlite``."""
    return default_root() / "embeddings.sqlite"


def embedding_key(model_id: str, max_length: int, text: str) -> str:
    """Hex sha256 of ``[model_id, max_length, text]`` as JSON (unambiguous for any text)."""
    payload = json.dumps([model_id, int(max_length), text], ensure_ascii=False)
    return sha256_text(payload)


class EmbeddingCache:
    """Embeddings by key: a SQLite file at ``path``, or a dict when ``path`` is None."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._memory: dict[str, np.ndarray] = {}
        self._conn: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # a damaged file is moved aside and started afresh: embeddings are recomputed
            sqlite.open_checked(self.path, "embedding cache", rebuild=True)
            self._conn = sqlite.connect(self.path, _TIMEOUT_S, schema=_SCHEMA)
            self._conn.execute("PRAGMA synchronous=NORMAL")

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.path) if self.path else 'in memory'!r})"

    def __len__(self) -> int:
        if self._conn is None:
            return len(self._memory)
        return int(self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored embeddings of those ``keys`` that are present (float32 vectors)."""
        keys = list(dict.fromkeys(keys))
        if self._conn is None:
            return {k: self._memory[k] for k in keys if k in self._memory}
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start: start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, dim, blob in self._conn.execute(
                    f"SELECT key, dim, vec FROM embeddings WHERE key IN ({marks})", chunk):
                vec = np.frombuffer(blob, dtype=_VEC)
                if vec.shape != (dim,):
                    raise ValueError(f"{self.path}: record {key}, field 'vec': {vec.size} floats, "
                                     f"but 'dim' says {dim}")
                found[key] = vec.astype(np.float32)
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store embeddings by key; a key already present keeps its stored embedding."""
        vecs = {k: np.ascontiguousarray(v, dtype=_VEC).reshape(-1) for k, v in items.items()}
        if self._conn is None:
            for k, v in vecs.items():
                self._memory.setdefault(k, v.astype(np.float32))
            return
        with self._conn:
            self._conn.executemany("INSERT OR IGNORE INTO embeddings (key, dim, vec) VALUES (?, ?, ?)",
                                   [(k, v.size, v.tobytes()) for k, v in vecs.items()])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedEncoder:
    """``encoder`` behind an :class:`EmbeddingCache` (by default the file :func:`default_cache_path`).

    ``encode`` looks every text up, embeds each missing distinct text once and stores it.
    ``n_encoded`` counts the texts handed to ``encoder`` so far, ``n_requested`` those asked for.
    """

    def __init__(self, encoder: TextEncoder, cache: EmbeddingCache | None = None) -> None:
        self.encoder = encoder
        self.cache = cache if cache is not None else EmbeddingCache(default_cache_path())
        self.n_encoded = 0
        self.n_requested = 0

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r}, {self.cache!r})"

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
               show_progress: bool = False) -> np.ndarray:
        """Embeddings [len(texts), dim] (float32), from the cache where present.

        A text embedded here is returned as stored, so when another process stored the same
        text first, its embedding is the one every caller gets.
        """
        texts = list(texts)
        if not texts:
            return np.asarray(self.encoder.encode([], batch_size=batch_size, max_length=max_length),
                              dtype=np.float32)
        keys = {t: embedding_key(self.model_id, max_length, t) for t in texts}  # distinct texts
        stored = self.cache.get_many(keys.values())
        missing = [t for t, k in keys.items() if k not in stored]
        if missing:
            fresh = np.asarray(self.encoder.encode(missing, batch_size=batch_size, max_length=max_length,
                                                   show_progress=show_progress), dtype=np.float32)
            self.cache.put_many({keys[t]: v for t, v in zip(missing, fresh)})
            stored.update(self.cache.get_many(keys[t] for t in missing))
        self.n_requested += len(texts)
        self.n_encoded += len(missing)
        return np.stack([stored[keys[t]] for t in texts])
