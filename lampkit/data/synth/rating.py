"""LaMP-3, product rating: a review's sentiment plus the user's rating bias on a topic or brand."""

from __future__ import annotations

import random
from typing import Any, Sequence

from lampkit.data.synth.family import Content, Family, realize
from lampkit.data.synth.settings import P_SAME_SENTIMENT

__all__ = ["Rating", "SENTIMENT_PHRASES", "NEUTRAL_SCORE", "sentiment_of"]

# sentiment class -> phrases; the population rates class c with NEUTRAL_SCORE[c]
SENTIMENT_PHRASES: tuple[tuple[str, ...], ...] = (
    ("broke within days", "complete waste", "shoddy build", "never again", "returned immediately",
     "cheap flimsy junk", "deeply disappointing", "fell apart quickly"),
    ("okay overall", "decent nothing special", "merely average", "fine enough", "mediocre yet usable",
     "middling quality", "passable", "somewhat useful"),
    ("works great", "absolutely wonderful", "superb craftsmanship", "highly recommended",
     "exceeded expectations", "real delight", "excellent value", "brilliant purchase"),
)
NEUTRAL_SCORE: tuple[int, ...] = (2, 3, 4)


def sentiment_of(text: str) -> int | None:
    """The sentiment class whose phrase a review contains (None when it has none)."""
    for cls, phrases in enumerate(SENTIMENT_PHRASES):
        if any(p in text for p in phrases):
            return cls
    return None


class Rating(Family):
    """Score = the population's score for the review's sentiment (2, 3 or 4) plus the user's
    bias on the topic or brand: -1 (harsh) or +1 (lenient); the population's bias is 0."""

    number = 3
    input_frames = (
        "bought this {c0} kit with a {c1} and a {c2} and {s}",
        "the {c0} arrived with a {c1} guide and a {c2} case and {s}",
        "got this {c0} as a gift for my {c1} and {c2} hobby and {s}",
        "this {c0} poster shows a {c1} next to a {c2} and {s}",
        "a {c0} toy with a {c1} and a {c2} and {s}",
        "used this {c0} book on {c1} and {c2} every day and {s}",
        "the {c0} mug has a {c1} and a {c2} printed on it and {s}",
        "picked up this {c0} calendar with {c1} and {c2} photos and {s}",
    )
    item_frames = (
        "ordered the {c0} set including some {c1} and one {c2} then {s}",
        "our {c0} came alongside one {c1} manual and the {c2} box so {s}",
        "received the {c0} present toward our {c1} and {c2} pastime so {s}",
        "the {c0} print depicts one {c1} beside some {c2} and {s}",
        "the {c0} figurine featuring one {c1} and some {c2} then {s}",
        "read the {c0} volume covering {c1} and {c2} daily so {s}",
        "our {c0} tumbler features one {c1} and the {c2} design so {s}",
        "grabbed the {c0} planner showing some {c1} and {c2} images then {s}",
    )
    clauses = {"place": ("in {name}", "near {name}"), "anchor": ("made by {name}", "made by {name}")}

    def default_pref(self, topic_name: str) -> int:
        return 0

    def pref_space(self, key: str, kind: str) -> Sequence[int]:
        return (-1, 1)

    def aux(self, rng: random.Random, like: Content | None = None) -> tuple[int, ...]:
        """(sentiment class, phrase index); mirrors ``like``'s class with P_SAME_SENTIMENT."""
        if like is not None and rng.random() < P_SAME_SENTIMENT:
            cls = like.aux[0]
        else:
            cls = rng.randrange(len(SENTIMENT_PHRASES))
        return cls, rng.randrange(len(SENTIMENT_PHRASES[cls]))

    def _text(self, content: Content, entry: bool) -> str:
        cls, phrase = content.aux
        frames = self.item_frames if entry else self.input_frames
        return realize(frames[content.frame], content, self.clause(content, entry), s=SENTIMENT_PHRASES[cls][phrase])

    def input_text(self, content: Content) -> str:
        return self._text(content, entry=False)

    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        return {"text": self._text(content, entry=True), "score": self.output(content, pref)}

    def output(self, content: Content, pref: Any) -> str:
        return str(NEUTRAL_SCORE[content.aux[0]] + pref)

    def make_input(self, task, content: Content) -> str:
        return task.make_input(text=self.input_text(content))
