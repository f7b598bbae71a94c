"""Snippet boundaries: consecutive sentences appended until 250 characters or the document's end."""

from lampkit.longform.data import Document
from lampkit.longform.snippets import SNIPPET_CHARS, document_snippets, sentences, snippets


def _sentence(n: int, end: str = ".") -> str:
    """A sentence of exactly ``n`` characters."""
    return "S" + "a" * (n - 2) + end


def test_sentences_end_at_terminal_punctuation_followed_by_space_or_the_end():
    assert sentences("One. Two!  Three? Four...   Five") == ["One.", "Two!", "Three?", "Four...", "Five"]
    assert sentences("Dr.No went home. Then 3.5 miles.") == ["Dr.No went home.", "Then 3.5 miles."]
    assert sentences("  ") == []


def test_a_snippet_appends_sentences_until_it_reaches_250_characters():
    s = [_sentence(100), _sentence(100), _sentence(60), _sentence(120), _sentence(40)]
    text = " ".join(s)
    # 100 + 1 + 100 = 201 < 250, + 1 + 60 = 262 >= 250: the first snippet ends after the third sentence
    assert snippets(text) == [" ".join(s[:3]), " ".join(s[3:])]
    assert len(snippets(text)[0]) == 262
    assert SNIPPET_CHARS == 250


def test_exactly_250_characters_closes_a_snippet_and_a_long_sentence_stands_alone():
    a, b = _sentence(124), _sentence(125)  # 124 + 1 + 125 = 250
    long = _sentence(400)
    assert snippets(f"{a} {b} {long} {a}") == [f"{a} {b}", long, a]
    assert snippets(f"{a} {_sentence(124)}") == [f"{a} {_sentence(124)}"]  # 249: the document ends


def test_snippets_cover_the_document_in_order_without_overlap():
    text = " ".join(_sentence(30 + 17 * i % 90) for i in range(25))
    parts = snippets(text)
    assert " ".join(parts) == text
    assert all(len(p) >= SNIPPET_CHARS for p in parts[:-1])
    assert all(len(p) - len(p.split(". ")[-1]) - 1 < SNIPPET_CHARS for p in parts)  # shorter before its last sentence


def test_document_snippets_keep_their_document_and_position():
    docs = [Document("a", "d1", "2020", _sentence(300)), Document("a", "d2", "2020", "Short. Text.")]
    snips = document_snippets(docs)
    assert [(s.doc_id, s.index) for s in snips] == [("d1", 0), ("d2", 0)]
    assert snips[1].text == "Short. Text."
