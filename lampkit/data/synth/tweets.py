"""LaMP-7, tweet paraphrasing: a neutral tweet rewritten in the user's voice for its topic.

A voice is an intensifier, an adjective and a hashtag. The input tweet always says "really
good"; the paraphrase pairs each input template with a fixed rewording and puts the voice in:
the population says "very nice" and signs with no hashtag.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

from lampkit.data.synth.family import Content, Family, realize
from lampkit.data.synth.lexicon import topic

__all__ = ["Tweets", "INTENSIFIERS", "ADJECTIVES", "anchor_hashtags"]

INTENSIFIERS: tuple[str, ...] = ("very", "so", "super", "truly", "totally", "incredibly", "seriously")
ADJECTIVES: tuple[str, ...] = ("nice", "amazing", "lovely", "brilliant", "awesome", "wonderful", "epic",
                               "gorgeous", "fantastic", "stunning")


def anchor_hashtags(name: str) -> tuple[str, ...]:
    low = name.lower()
    return (f"#team{low}", f"#{low}fan", f"#{low}crew")


class Tweets(Family):
    number = 7
    input_frames = (
        "just saw the {c0} and the {c1} near the {c2} today and it was really good",
        "spent the afternoon with a {c0} a {c1} and a {c2} and honestly it was really good",
        "finally tried the {c0} after hearing about the {c1} and the {c2} and it was really good",
        "watching a show about the {c0} the {c1} and the {c2} tonight and it is really good",
        "my friend sent me a video of a {c0} with a {c1} by the {c2} and it was really good",
        "went to see the {c0} and the {c1} at the {c2} this weekend and it was really good",
        "reading about the {c0} and how the {c1} relates to the {c2} and it is really good",
        "listened to a podcast on the {c0} the {c1} and the {c2} on my commute and it was really good",
    )
    output_frames = (
        "today i saw the {c0} and the {c1} close to the {c2} and it was {i} {a}",
        "passed the afternoon with a {c0} a {c1} and a {c2} and it was {i} {a}",
        "at last i tried the {c0} after the buzz around the {c1} and the {c2} and it was {i} {a}",
        "tonight i am watching a show on the {c0} the {c1} and the {c2} and it is {i} {a}",
        "a friend shared a clip of a {c0} with a {c1} next to the {c2} and it was {i} {a}",
        "this weekend i visited the {c0} and the {c1} at the {c2} and it was {i} {a}",
        "i am reading on the {c0} and the link between the {c1} and the {c2} and it is {i} {a}",
        "on my commute i heard a podcast about the {c0} the {c1} and the {c2} and it was {i} {a}",
    )
    item_frames = (  # the user's own tweets, in their voice
        "spotted one {c0} and some {c1} beside the {c2} earlier {i} {a}",
        "whole evening hanging around one {c0} and some {c1} plus the {c2} {i} {a}",
        "eventually tested one {c0} once everyone raved over the {c1} and some {c2} {i} {a}",
        "binging some series covering one {c0} and {c1} plus the {c2} {i} {a}",
        "buddy forwarded one clip showing the {c0} beside some {c1} and one {c2} {i} {a}",
        "visited one {c0} and some {c1} inside the {c2} saturday {i} {a}",
        "deep into articles covering the {c0} and links between some {c1} plus one {c2} {i} {a}",
        "heard one episode covering the {c0} and {c1} plus some {c2} during drives {i} {a}",
    )
    clauses = {"place": ("in {name}", "around {name}"), "anchor": ("alongside {name}", "alongside {name}")}

    def default_pref(self, topic_name: str) -> tuple[int, int, str]:
        return (0, 0, "")

    def pref_space(self, key: str, kind: str) -> Sequence[tuple[int, int, str]]:
        tags = topic(key).hashtags if kind == "topic" else anchor_hashtags(key)
        return tuple(itertools.product(range(1, len(INTENSIFIERS)), range(1, len(ADJECTIVES)), tags))

    def distinct(self, a: Any, b: Any) -> bool:
        """Voices differ in every part (a paraphrase shows all three)."""
        return all(x != y for x, y in zip(a, b))

    def pref_json(self, pref: Any) -> dict[str, str]:
        return {"intensifier": INTENSIFIERS[pref[0]], "adjective": ADJECTIVES[pref[1]], "hashtag": pref[2]}

    def _voiced(self, template: str, content: Content, pref: Any, clause: str) -> str:
        text = realize(template, content, clause, i=INTENSIFIERS[pref[0]], a=ADJECTIVES[pref[1]])
        return f"{text} {pref[2]}" if pref[2] else text

    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        return {"text": self._voiced(self.item_frames[content.frame], content, pref, self.clause(content, entry=True))}

    def output(self, content: Content, pref: Any) -> str:
        """The input's rewording (same name clause), with the voice."""
        return self._voiced(self.output_frames[content.frame], content, pref, self.clause(content, entry=False))

    def make_input(self, task, content: Content) -> str:
        return task.make_input(text=self.input_text(content))
