"""Long-form personalized writing data: documents of authors, read from and written to JSONL.

A split is one JSONL file, one document per line: ``{"author", "id", "date", "text"}`` (``date``
is ``YYYY-MM-DD`` or a bare year, as in LaMP; other fields are kept in ``Document.extra`` and
written back). Ids are unique in a file. The layout of a data folder is
``{root}/{split}.jsonl``; a mini-LaMP folder holds it under ``{root}/longform/``.

A task instance (:class:`LongformExample`) is one *current* document of an author: its first
:data:`CONTEXT_CHARS` characters are the immediate context x_t, the rest is the text to write,
and the author's documents dated before it are the past documents D_t (Li et al. 2023, the problem formulation). By
default each author's newest document is its current one; ``targets_per_author`` makes the
newest few documents each a current document (more training instances from the same authors).

Every problem raises :class:`lampkit.data.records.LampDataError` naming the file, the record (``line 7
(id d12)``, or ``author a3``) and the field; nothing is dropped silently: an author whose
current document is too short, or who has no earlier document, is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from lampkit.data.layout import SPLITS, LampDataError, parse_date
from lampkit.store.io import atomic_write_text, dumps_json

__all__ = ["CONTEXT_CHARS", "FIELDS", "Document", "LongformExample", "split_path", "data_root", "load_documents",
           "write_documents", "build_examples", "load_split"]

CONTEXT_CHARS = 150  # the immediate context: the current document's first 150 characters
FIELDS: tuple[str, ...] = ("author", "id", "date", "text")


@dataclass(frozen=True)
class Document:
    """One document of an author; ``extra`` holds the record's other fields."""

    author: str
    id: str
    date: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"author": self.author, "id": self.id, "date": self.date, "text": self.text}
        for key, value in self.extra.items():
            rec.setdefault(key, value)
        return rec


@dataclass(frozen=True)
class LongformExample:
    """A current document of an author with the author's past documents (oldest first)."""

    id: str
    author: str
    date: str
    context: str  # x_t: the first CONTEXT_CHARS characters
    target: str  # the rest of the document: what the generator writes
    past: tuple[Document, ...]

    @property
    def text(self) -> str:
        return self.context + self.target


def split_path(root: str | Path, split: str) -> Path:
    """``{root}/{split}.jsonl``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return Path(root) / f"{split}.jsonl"


def data_root(path: str | Path) -> Path:
    """The folder holding the split files: ``path`` itself, or its ``longform`` subfolder (mini-LaMP)."""
    path = Path(path).expanduser()
    if (path / "longform").is_dir() and not any((path / f"{s}.jsonl").exists() for s in SPLITS):
        return path / "longform"
    return path


def _check_record(raw: Any, where: str, path: Path) -> Document:
    if not isinstance(raw, dict):
        raise LampDataError(path, f"a record must be a JSON object, not {type(raw).__name__}", where)
    doc_id = raw.get("id")
    if isinstance(doc_id, str) and doc_id:
        where = f"{where} (id {doc_id})"
    for name in FIELDS:
        if name not in raw:
            raise LampDataError(path, "missing field", where, name)
        value = raw[name]
        if not isinstance(value, str) or not value.strip():
            shown = "null" if value is None else f"{type(value).__name__} {value!r}"[:80]
            raise LampDataError(path, f"must be a non-empty string, not {shown}", where, name)
    try:
        parse_date(raw["date"])
    except ValueError as exc:
        raise LampDataError(path, str(exc), where, "date") from None
    extra = {k: v for k, v in raw.items() if k not in FIELDS}
    return Document(raw["author"], raw["id"], raw["date"], raw["text"], extra)


def load_documents(path: str | Path) -> list[Document]:
    """The documents of one JSONL file, in file order, every record checked.

    Each non-blank line is a JSON object with non-empty string fields ``author``, ``id``,
    ``date`` (``YYYY-MM-DD`` or ``YYYY``) and ``text``; ids are unique in the file. Raises
    :class:`~lampkit.data.records.LampDataError` naming the file, the line (and id) and the field.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LampDataError(path, "file not found (expected one JSON document per line: author, id, date, "
                            "text)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LampDataError(path, f"not UTF-8 text (byte {exc.start})") from None
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LampDataError(path, f"invalid JSON at column {exc.colno}: {exc.msg}", f"line {n}") from None
        doc = _check_record(value, f"line {n}", path)
        if doc.id in first_line:
            raise LampDataError(path, f"duplicate id (first on line {first_line[doc.id]})", f"line {n} (id {doc.id})",
                                "id")
        first_line[doc.id] = n
        docs.append(doc)
    if not docs:
        raise LampDataError(path, "the file holds no document")
    return docs


def write_documents(path: str | Path, docs: Iterable[Document]) -> Path:
    """Write documents as JSONL (one canonical JSON object per line), atomically."""
    return atomic_write_text(path, "".join(dumps_json(d.record()) + "\n" for d in docs))


def build_examples(docs: Sequence[Document], targets_per_author: int = 1, source: str | Path = "<documents>",
                   context_chars: int = CONTEXT_CHARS) -> list[LongformExample]:
    """Task instances: per author (in order of first appearance), its newest ``targets_per_author``
    documents each as a current document, with the author's earlier documents as its past.

    Documents are ordered by date, then by file order. Raises :class:`~lampkit.data.records.LampDataError` (naming
    ``source``) when a current document has no more than ``context_chars`` characters or no
    earlier document of its author exists.
    """
    if targets_per_author < 1:
        raise ValueError("targets_per_author must be at least 1")
    by_author: dict[str, list[tuple[tuple[int, ...], int, Document]]] = {}
    for i, doc in enumerate(docs):
        by_author.setdefault(doc.author, []).append((parse_date(doc.date), i, doc))
    out: list[LongformExample] = []
    for author, entries in by_author.items():
        timeline = [d for _, _, d in sorted(entries, key=lambda e: (e[0], e[1]))]
        if len(timeline) < 2:
            raise LampDataError(source, "the author has a single document: no past documents to personalize with",
                                f"author {author} (id {timeline[0].id})", "author")
        first = max(1, len(timeline) - targets_per_author)
        for j in range(first, len(timeline)):
            cur = timeline[j]
            if len(cur.text) <= context_chars:
                raise LampDataError(source, f"the current document has {len(cur.text)} characters; it needs more "
                                    f"than the {context_chars} of the immediate context",
                                    f"author {author} (id {cur.id})", "text")
            out.append(LongformExample(cur.id, author, cur.date, cur.text[:context_chars], cur.text[context_chars:],
                                       tuple(timeline[:j])))
    return out


def load_split(root: str | Path, split: str, targets_per_author: int = 1) -> list[LongformExample]:
    """The task instances of ``{root}/{split}.jsonl`` (or ``{root}/longform/{split}.jsonl``)."""
    path = split_path(data_root(root), split)
    return build_examples(load_documents(path), targets_per_author, source=path)
