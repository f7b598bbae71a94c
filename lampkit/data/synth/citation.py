"""LaMP-1, citation identification: which of two references the author would cite.

Profile entries are the author's papers (title and abstract). The reference to choose is on a
subject the papers show (a topic, or an anchor: a method the author uses); the foil is on a
subject they do not show, or show in a misleading way (see the regimes in ``story.py``).
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from lampkit.data.synth.family import Content, Family, realize
from lampkit.data.synth.styled import ABSTRACT_ITEM_FRAMES

__all__ = ["Citation"]


class Citation(Family):
    number = 1
    has_prefs = False
    two_refs = True
    input_frames = (  # reference titles
        "{c0} and {c1} in {c2} systems",
        "a study of {c0} for {c1} and {c2}",
        "modeling the {c0} of {c1} with {c2}",
        "understanding {c0} through {c1} and {c2}",
        "learning {c0} representations from {c1} and {c2}",
        "measuring the effect of {c0} on {c1} and {c2}",
        "new methods for {c0} {c1} and {c2} analysis",
        "the {c0} problem in {c1} and {c2} research",
    )
    item_frames = (  # titles of the author's papers, and of the input's paper
        "the {c0} and {c1} within {c2} frameworks",
        "an inquiry into the {c0} toward {c1} and {c2}",
        "simulating the {c0} via {c1} and {c2}",
        "explaining the {c0} using {c1} and {c2}",
        "inferring the {c0} embeddings given {c1} and {c2}",
        "quantifying how the {c0} influences {c1} and {c2}",
        "novel techniques toward the {c0} {c1} and {c2} evaluation",
        "one {c0} challenge across the {c1} and {c2} studies",
    )
    abstract_frames = ABSTRACT_ITEM_FRAMES
    clauses = {"place": ("in {name}", "near {name}"), "anchor": ("via the {name} method", "via the {name} method")}

    def default_pref(self, topic_name: str) -> None:
        return None

    def pref_space(self, key: str, kind: str) -> Sequence[None]:
        return (None,)

    def aux(self, rng: random.Random, like: Content | None = None) -> tuple[int, ...]:
        return (rng.randrange(len(self.abstract_frames)),)

    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        clause = self.clause(content, entry=True)
        return {"title": realize(self.item_frames[content.frame], content, clause),
                "abstract": realize(self.abstract_frames[content.aux[0]], content, clause)}

    def paper_title(self, content: Content) -> str:
        return realize(self.item_frames[content.frame], content)

    def make_refs_input(self, task, title: Content, target: Content, foil: Content, target_first: bool) -> str:
        refs = [self.input_text(target), self.input_text(foil)]
        if not target_first:
            refs.reverse()
        return task.make_input(title=self.paper_title(title), ref1=refs[0], ref2=refs[1])
