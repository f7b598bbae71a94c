"""LaMP-4, 5 and 6: a headline, paper title or email subject in the user's style for the topic.

The output names the text's first two concepts (``{a}`` and ``{b}``, copied from the input)
inside a style template; style 0 is the population's plain one, styles 1-7 are personal habits.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from lampkit.data.synth.family import Content, Family, realize

__all__ = ["Styled", "Headlines", "PaperTitles", "EmailSubjects", "ABSTRACT_ITEM_FRAMES"]


class Styled(Family):
    """A family whose output is ``styles[pref]`` filled with the content's first two words."""

    styles: tuple[str, ...]
    content_field: str  # the profile field holding the text (the title field is "title")
    input_field: str  # the keyword of the task's input template

    def default_pref(self, topic_name: str) -> int:
        return 0

    def pref_space(self, key: str, kind: str) -> Sequence[int]:
        return tuple(range(1, len(self.styles)))

    def pref_json(self, pref: Any) -> str:
        return self.styles[pref]

    def item_fields(self, content: Content, pref: Any) -> dict[str, str]:
        text = realize(self.item_frames[content.frame], content, self.clause(content, entry=True))
        return {self.content_field: text, "title": self.output(content, pref)}

    def output(self, content: Content, pref: Any) -> str:
        return self.styles[pref].format(a=content.words[0], b=content.words[1])

    def make_input(self, task, content: Content) -> str:
        return task.make_input(**{self.input_field: self.input_text(content)})


class Headlines(Styled):
    number = 4
    content_field = "text"
    input_field = "text"
    input_frames = (
        "officials confirmed that the {c0} near the {c1} will close while crews inspect the {c2} this week",
        "residents gathered to discuss the {c0} and the {c1} after reports about a {c2} spread quickly",
        "a new study suggests the {c0} could change the way people see the {c1} and the {c2}",
        "experts warn that the {c0} is putting pressure on the {c1} and on every {c2} nearby",
        "the city plans to spend more on the {c0} and the {c1} following a {c2} last month",
        "volunteers helped a {c0} rescue a {c1} from the {c2} on sunday",
        "the annual {c0} festival returns with a {c1} show and a {c2} parade",
        "nobody knows the reason the {c0} and the {c1} ended up next to a {c2}",
    )
    item_frames = (
        "authorities said one {c0} beside the {c1} shuts down and workers examine some {c2} over coming days",
        "locals met debating the {c0} and one {c1} once rumors concerning some {c2} circulated widely",
        "fresh research indicates one {c0} might reshape public views regarding the {c1} and some {c2}",
        "specialists caution the {c0} now strains one {c1} and each {c2} around",
        "local leaders intend investing extra toward the {c0} and one {c1} since some {c2} recently",
        "helpers assisted one {c0} and saved the {c1} out of some {c2} saturday",
        "each year the {c0} celebration comes back featuring one {c1} spectacle and some {c2} march",
        "no one can say what put the {c0} and one {c1} alongside some {c2}",
    )
    clauses: Mapping[str, tuple[str, str]] = {"place": ("in {name}", "around {name}"),
                                              "anchor": ("per {name} sources", "per {name} sources")}
    styles = (
        "{a} and {b} news",
        "{a} and {b}: what we know",
        "why the {a} matters for the {b}",
        "inside the {a} {b} story",
        "{a} and {b}: five key facts",
        "breaking: {a} {b} update",
        "opinion: rethink the {a} and the {b}",
        "how {a} and {b} became the talk of the town",
    )


ABSTRACT_ITEM_FRAMES: tuple[str, ...] = (
    "this paper introduces one approach capturing the {c0} and one {c1} toward better {c2} estimation",
    "our work investigates whether the {c0} influences one {c1} and builds some extensive {c2} corpus",
    "results indicate {c0} signals anticipate the {c1} and {c2} behaviour",
    "this article describes one system connecting the {c0} and {c1} via {c2} modelling",
    "the authors compile logs covering {c0} and {c1} then estimate influence upon {c2}",
    "this report inspects the {c0} measurements around some {c1} and clarifies one {c2}",
    "this work tests one learned network over the {c0} inferring {c1} and {c2}",
    "formal arguments prove the {c0} limits some {c1} and holds given weak {c2} premises",
)


class PaperTitles(Styled):
    number = 5
    content_field = "abstract"
    input_field = "abstract"
    input_frames = (
        "we propose a method that models the {c0} and the {c1} to improve {c2} analysis",
        "we examine how the {c0} affects the {c1} using a large {c2} dataset",
        "experiments show that {c0} features predict {c1} outcomes in {c2} settings",
        "we present a scheme linking {c0} and {c1} through {c2} simulation",
        "we gather records of {c0} and {c1} and quantify their impact on {c2}",
        "we analyse {c0} data from the {c1} to explain the {c2}",
        "we evaluate a neural model of the {c0} that reasons about {c1} and {c2}",
        "a theoretical analysis shows the {c0} bounds the {c1} under mild {c2} assumptions",
    )
    item_frames = ABSTRACT_ITEM_FRAMES
    clauses: Mapping[str, tuple[str, str]] = {"place": ("in {name}", "near {name}"),
                                              "anchor": ("via the {name} toolkit", "via the {name} toolkit")}
    styles = (
        "exploring {a} and {b}",
        "towards robust {a} for {b}",
        "learning {a} with {b}",
        "revisiting the {a} for {b}",
        "{a} meets {b}: one unified framework",
        "rethinking {a} for {b}",
        "scalable {a} with {b}",
        "when does {a} help {b}",
    )


class EmailSubjects(Styled):
    number = 6
    content_field = "text"
    input_field = "text"
    input_frames = (
        "hi folks please review the {c0} notes and the {c1} plan before we discuss the {c2} on friday",
        "hello all attached is the latest {c0} report covering the {c1} and the {c2} figures",
        "can we meet tomorrow to talk about the {c0} and the {c1} because the {c2} deadline moved",
        "quick reminder that the {c0} session covers the {c1} and the {c2} next week",
        "i have updated the {c0} schedule and added the {c1} and the {c2} tasks",
        "thanks for sending the {c0} draft i left comments on the {c1} and the {c2} sections",
        "we need a decision on the {c0} option and the {c1} request before the {c2} review",
        "following up on the {c0} issue with the {c1} and the {c2} can you confirm the status",
    )
    item_frames = (
        "dear colleagues kindly check the {c0} minutes and one {c1} outline ahead of our {c2} chat",
        "greetings everyone enclosed sits the newest {c0} summary regarding {c1} and {c2} numbers",
        "could everybody gather soon so the {c0} and {c1} get sorted since {c2} timing shifted",
        "heads-up our {c0} call includes the {c1} and {c2} items later this month",
        "revised the {c0} timeline then inserted {c1} and {c2} actions",
        "much appreciated getting the {c0} version my feedback concerns {c1} and {c2} parts",
        "kindly decide between the {c0} choice and one {c1} ask ahead of some {c2} check",
        "circling back regarding the {c0} trouble plus {c1} and {c2} could somebody verify progress",
    )
    clauses: Mapping[str, tuple[str, str]] = {"place": ("in {name}", "near {name}"),
                                              "anchor": ("project {name}", "project {name}")}
    styles = (
        "{a} and {b}",
        "re: {a} {b}",
        "quick question about {a} and {b}",
        "fyi {a} {b} update",
        "reminder: {a} and {b} plans",
        "urgent: {a} {b} issue",
        "notes from the {a} {b} meeting",
        "follow up on {a} and {b}",
    )
