"""Snippets: consecutive sentences of one document, appended until 250 characters or its end.

A document is cut into sentences (a sentence ends with ``.``, ``!`` or ``?`` followed by
whitespace, or at the end of the text). A snippet starts at a sentence and takes the sentences
after it, one by one, while it is shorter than :data:`SNIPPET_CHARS`; the next snippet starts
at the following sentence. So every snippet but a document's last has at least 250 characters,
a sentence never straddles two snippets, and the snippets of a document, joined by single
spaces, give back its text with whitespace between sentences normalised to one space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from lampkit.longform.data import Document

__all__ = ["SNIPPET_CHARS", "Snippet", "sentences", "snippets", "document_snippets"]

SNIPPET_CHARS = 250
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s)|$)", re.DOTALL)


@dataclass(frozen=True)
class Snippet:
    """A run of consecutive sentences of one document."""

    doc_id: str
    index: int  # position among the document's snippets
    text: str


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, in order."""
    return [m.group(0).strip() for m in _SENTENCE.finditer(text)]


def snippets(text: str, max_chars: int = SNIPPET_CHARS) -> list[str]:
    """The snippets of one text: sentences appended until the snippet reaches ``max_chars`` or the text ends."""
    out: list[str] = []
    current = ""
    for sentence in sentences(text):
        current = f"{current} {sentence}" if current else sentence
        if len(current) >= max_chars:
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def document_snippets(docs: Sequence[Document], max_chars: int = SNIPPET_CHARS) -> list[Snippet]:
    """The snippets of every document, document by document."""
    return [Snippet(d.id, i, s) for d in docs for i, s in enumerate(snippets(d.text, max_chars))]
