"""The generative story of mini-LaMP in markdown, with the generator's own numbers."""

from __future__ import annotations

from lampkit.data.synth.family import Family
from lampkit.data.synth.lexicon import ANCHORS, PLACES, TOPICS, WORD_CONCEPT, topic
from lampkit.data.synth.settings import (BACKGROUND_TOPICS, GROUP_SIZES, INPUT_PERIODS, NEWEST_FREE, P_BACKGROUND_DEFAULT,
                       P_PLACE, P_SAME_SENTIMENT, REGIME_SHARES, SCALES, START)
from lampkit.data.synth.styled import EmailSubjects, Headlines, PaperTitles
from lampkit.data.synth.tweets import ADJECTIVES, INTENSIFIERS
from lampkit.data.synth.world import FAMILIES

__all__ = ["story_markdown"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _range(key: str) -> str:
    lo, hi = GROUP_SIZES[key]
    return f"{lo}-{hi}"


def _regime_rows() -> list[tuple[str, str, str]]:
    return [
        ("plain", f"{_range('relevant')} entries on the input's topic repeat 2-3 of its words and show "
                  "the user's habit", "BM25 and dense"),
        ("lexical", f"the input names an anchor; {_range('contrast')} entries on other topics name it too "
                    "and show the anchor habit; as many paraphrases of the input show the topic habit",
         "BM25 (the exact name)"),
        ("semantic", f"{_range('contrast')} paraphrases of the input show the habit; as many entries on "
                     "other topics share the input's place name", "dense (the meaning)"),
        ("drift", f"the user changed habit: {_range('stale')} old entries repeat the input's words with the "
                  f"old habit; {_range('new')} entries, the newest of the profile, touch the topic lightly "
                  "with the new one", "recency"),
        ("misleading", "like plain, but the gold follows the population, not the habit the profile shows",
         "no personalization"),
    ]


def story_markdown() -> str:
    """A few paragraphs (and two tables) describing how mini-LaMP is generated."""
    ship = topic("ocean").concepts[0]
    space = topic("space")
    regimes = "\n".join(f"| {name} | {_pct(REGIME_SHARES[name])} | {evidence} | {best} |"
                        for name, evidence, best in _regime_rows())
    scales = "\n".join(f"| {sc.name} | {sc.n_train} | {sc.n_dev} | {sc.n_test} | {sc.profile_min}-"
                       f"{sc.profile_max} | {_pct(sc.returning)} |" for sc in SCALES.values())
    periods = ", ".join(f"{split} inputs in {lo.year}" + (f"-{hi.year}" if hi.year != lo.year else "")
                        for split, (lo, hi) in INPUT_PERIODS.items())
    glue = " and ".join(f'"{w}"' for w in Family.glue)
    n_frames = "/".join(sorted({str(len(f.input_frames)) for f in FAMILIES.values()}))
    return f"""\
**Words.** Every text is built from a shared lexicon of {len(TOPICS)} topics in plain English
({", ".join(t.name for t in TOPICS[:8])}, ...), each with 12 concepts. A concept is a core word
with one or two real synonyms ({ship[0]}: {", ".join(ship[1])}); {len(WORD_CONCEPT)} topic words in
all. Inputs always use the core words. Texts are short sentences from {n_frames} templates per task for
inputs and as many for profile entries; entry template *k* rewords input template *k*, and the two
sets share no word but {glue}, which every entry template holds. Four entries and the input fit a
512-token prompt with room to spare. {len(ANCHORS)} surnames serve as *anchors* (a brand, a
director, a method, a project, a team) and {len(PLACES)} town names as *places* ("in Ashford" in an
input, "near Ashford" in an entry: the name is the only token they share).

**Users.** Each user writes about a few topics of their own ({BACKGROUND_TOPICS[0]}-{BACKGROUND_TOPICS[1]}
besides the topics of their inputs) and has a habit per topic that shows only through the profile:
the tag they give movies on it, a rating bias (harsh: -1, lenient: +1), a headline, title or
subject style, a voice for tweets (an intensifier, an adjective and a hashtag). On
{_pct(P_BACKGROUND_DEFAULT)} of their topics they follow the population. A user may also follow an
anchor, whose habit overrides the topic's. Besides an input's evidence (below), a profile holds
background entries on the user's other topics ({_pct(P_PLACE)} of them near a random place), so that
random or irrelevant entries do not help.

**Regimes.** Each input is drawn from one regime, in fixed shares of every split; the regime decides
which evidence the profile holds, and so which retriever brings the evidence behind the gold to a
reader of the top {NEWEST_FREE} entries:

| regime | share | evidence in the profile | best retriever |
|---|---|---|---|
{regimes}

A paraphrase writes the input's concepts with synonyms only, in the entry template that rewords the
input's template: BM25 (exact, case-sensitive whitespace tokens) cannot see it, while a sentence
encoder such as MiniLM matches it by meaning and ranks it above entries that merely share a name.
Outside drift, none of an input's evidence is among the profile's {NEWEST_FREE} newest entries.
The latent facts (regime, key, preferences, the ids of the relevant, stale and decoy entries, the
population's and the personal output) are written next to the data, never into it.

**Tasks.** LaMP-1: the author's papers are the profile; the reference to choose is on a subject the
papers show (a topic, or an anchor method), the foil on one they do not, and the paper's own title is
on a third topic; under misleading, the title and the chosen reference share a topic absent from the
profile while the foil is on the author's topic. Which reference carries a name tells nothing: under
lexical both name a method (the foil one that no paper of the author uses), under semantic both a place
(the foil the one the papers on other topics share); under drift the newest papers repeat 2-3 of the
chosen reference's words. [1] and [2] are correct equally often. LaMP-2: each
topic suggests three of the 15 tags (e.g. {space.name}: {", ".join(space.tags)}); the population uses
the first, a user's habit one of the other two, and any tag for a director. LaMP-3: the population
scores a negative, mixed or positive review 2, 3 or 4 and the user adds their bias; a relevant review
has the input's sentiment with probability {P_SAME_SENTIMENT:.2f}. LaMP-4, 5 and 6: the output names
the input's first two concepts in a style ({len(Headlines.styles)} headline, {len(PaperTitles.styles)}
title and {len(EmailSubjects.styles)} subject templates); the first is the population's, e.g.
"{Headlines.styles[0]}" against "{Headlines.styles[2]}". LaMP-7: a neutral tweet ("... really good")
is reworded in a fixed way with the user's intensifier ({len(INTENSIFIERS) - 1} choices), adjective
({len(ADJECTIVES) - 1}) and hashtag; the population says "{INTENSIFIERS[0]} {ADJECTIVES[0]}" and adds
no hashtag.

**Time.** Dates are days from {START.year} on: {periods}. A user's profile holds everything they
wrote before the input; dev and test inputs partly come from returning users, whose profiles are
then longer. Profile sizes are drawn log-uniformly in the scale's range and raised where the
evidence needs room:

| scale | train | dev | test | profile items | returning users (dev, test) |
|---|---|---|---|---|---|
{scales}
"""
