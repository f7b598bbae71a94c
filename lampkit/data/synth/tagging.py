"""LaMP-2, movie tagging: a user's tag for a topic (or a director) among plausible tags."""

from __future__ import annotations

from typing import Any, Sequence

from lampkit.tasks import LAMP2_TAGS
from lampkit.data.synth.family import Content, Family, realize
from lampkit.data.synth.lexicon import topic

__all__ = ["Tagging"]


class Tagging(Family):
    """Each topic suggests three of the 15 tags; the population uses the first, a user's habit
    picks one of the other two (any tag for a director they follow)."""

    number = 2
    input_frames = (
        "a {c0} and a {c1} are drawn into a {c2} in this film",
        "when a {c0} meets a {c1} everything changes around the {c2}",
        "the story of a {c0} whose {c1} hides a dark {c2}",
        "a lonely {c0} searches for a {c1} and finds a {c2}",
        "years later a {c0} returns to face the {c1} and the {c2}",
        "a young {c0} must protect the {c1} from a {c2}",
        "nobody believes the {c0} about the {c1} until a {c2} arrives",
        "an unlikely friendship grows between a {c0} and a {c1} during a {c2}",
    )
    item_frames = (
        "movie follows how one {c0} and some {c1} get pulled toward the {c2}",
        "the {c0} crosses paths with one {c1} and life turns upside down near some {c2}",
        "tale where one {c0} keeps the {c1} secret and guards some {c2}",
        "one isolated {c0} hunts down some {c1} and discovers the {c2}",
        "decades afterward one {c0} comes back confronting the {c1} and some {c2}",
        "one teenage {c0} defends the {c1} against some {c2} and wins",
        "no one trusts one {c0} regarding the {c1} and then some {c2} shows up",
        "two strangers one {c0} and some {c1} bond over the {c2}",
    )
    clauses = {"place": ("in {name}", "near {name}"), "anchor": ("by director {name}", "by director {name}")}

    def default_pref(self, topic_name: str) -> str:
        return topic(topic_name).tags[0]

    def pref_space(self, key: str, kind: str) -> Sequence[str]:
        return topic(key).tags[1:] if kind == "topic" else LAMP2_TAGS

    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        text = realize(self.item_frames[content.frame], content, self.clause(content, entry=True))
        return {"description": text, "tag": pref}

    def output(self, content: Content, pref: Any) -> str:
        return pref

    def make_input(self, task, content: Content) -> str:
        return task.make_input(description=self.input_text(content))
