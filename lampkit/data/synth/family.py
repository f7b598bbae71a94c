"""What every task family of mini-LaMP provides: templates, preferences and rendering.

A *content* is what one text is about: a topic, three of its concepts (each written as its core
word or a synonym), a template index, an optional name (an anchor or a place) and task-specific
extras (a review's sentiment). A family turns contents into input texts, profile items and
outputs, and knows the user preferences of its task (a movie tag, a rating bias, a headline
style, a tweeting voice) with the population default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


__all__ = ["Content", "Family", "realize", "tokens"]

_VOWEL_SOUND_EXCEPTIONS = ("uni", "use", "eu", "one")
_SILENT_H = ("hour", "honest", "heir")


@dataclass(frozen=True)
class Content:
    """What one text is about."""

    topic: str
    concepts: tuple[str, ...]  # core words of the concepts, in slot order
    words: tuple[str, ...]  # the form written for each concept (core word or synonym)
    frame: int  # index of the template in the family's pool for this kind of text
    name: str | None = None
    name_kind: str | None = None  # "anchor" or "place"
    aux: tuple[int, ...] = ()  # family-specific extras (e.g. sentiment class and phrase)


def _article(word: str) -> str:
    w = word.lower()
    if w.startswith(_SILENT_H):
        return "an"
    if w[:1] in "aeiou" and not w.startswith(_VOWEL_SOUND_EXCEPTIONS):
        return "an"
    return "a"


def realize(template: str, content: Content, clause: str = "", **slots: str) -> str:
    """Fill ``{c0}..{c2}`` with the content's words and ``slots``; append ``clause``; fix a/an."""
    text = template.format(**{f"c{i}": w for i, w in enumerate(content.words)}, **slots)
    if clause:
        text = f"{text} {clause}"
    words = text.split()
    for i in range(len(words) - 1):
        if words[i] in ("a", "an"):
            words[i] = _article(words[i + 1])
    return " ".join(words)


def tokens(text: str) -> set[str]:
    """Whitespace tokens, as BM25 sees them."""
    return set(text.split())


class Family:
    """Base class of the task families; subclasses set the templates and override the hooks."""

    number: int
    input_frames: tuple[str, ...]  # templates of the input's content
    # templates of profile entries: item_frames[k] paraphrases input_frames[k]; every entry template
    # holds the glue words, and entries share no other word with any input template, so that BM25
    # sees only what a regime puts there on purpose (topic words, a name)
    item_frames: tuple[str, ...]
    glue: tuple[str, ...] = ("the", "and")
    # name kind -> (clause of an input, clause of an entry), with {name}; a place reads "in X" in an
    # input and "near X" (or the like) in an entry, so that the name is the only shared token; an
    # anchor's clause is the same on both sides and its words occur nowhere else
    clauses: Mapping[str, tuple[str, str]]
    has_prefs = True  # LaMP-1 has none: its answer is which reference the profile points to
    two_refs = False  # LaMP-1: the input holds a reference to choose and a foil

    # ----- preferences ------------------------------------------------------------------
    def default_pref(self, topic: str) -> Any:
        """The population's answer on ``topic``."""
        raise NotImplementedError

    def pref_space(self, key: str, kind: str) -> Sequence[Any]:
        """Personal preferences a user may hold for a topic or an anchor (``kind``)."""
        raise NotImplementedError

    def distinct(self, a: Any, b: Any) -> bool:
        """Whether two preferences give visibly different answers."""
        return a != b

    def pref_json(self, pref: Any) -> Any:
        return pref

    # ----- contents -----------------------------------------------------------------------
    def aux(self, rng: random.Random, like: Content | None = None) -> tuple[int, ...]:
        """Extras of a new content; ``like`` is the input a relevant entry mirrors."""
        return ()

    def clause(self, content: Content, entry: bool) -> str:
        """The name clause of an input's text (``entry`` False) or of a profile entry's."""
        if content.name is None:
            return ""
        return self.clauses[content.name_kind][int(entry)].format(name=content.name)

    def shareable(self) -> set[str]:
        """Words an entry may share with any input: the glue and the anchor clause's words."""
        return set(self.glue) | set(self.clauses["anchor"][0].format(name="").split())

    # ----- rendering ----------------------------------------------------------------------
    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        """The task's profile fields of one entry (no id, no date)."""
        raise NotImplementedError

    def input_text(self, content: Content) -> str:
        """The user's content of an input (what the task's template wraps)."""
        return realize(self.input_frames[content.frame], content, self.clause(content, entry=False))

    def output(self, content: Content, pref: Any) -> str:
        """The output for an input about ``content`` under preference ``pref``."""
        raise NotImplementedError

    def make_input(self, task, content: Content) -> str:
        raise NotImplementedError
