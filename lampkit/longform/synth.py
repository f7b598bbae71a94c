"""Authors with a recognizable voice: the long-form writing data of mini-LaMP.

:func:`story_markdown` tells the generative story; :func:`generate` builds the documents of
every split in memory and :func:`write_longform` writes them as ``{out}/longform/{split}.jsonl``.
The same seed and scale always give the same bytes; the stream of random numbers is this
module's own, so the LaMP files of mini-LaMP do not change when this data is added beside them.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from pathlib import Path

from lampkit.store.digest import stable_seed
from lampkit.data.layout import SPLITS
from lampkit.data.synth.lexicon import ANCHORS, TOPICS, Topic
from lampkit.data.synth.settings import Scale
from lampkit.longform.data import Document, split_path, write_documents

__all__ = ["LongformScale", "SCALES", "get_scale", "OPENINGS", "INTROS", "FILLERS", "STRUCTURES", "CLAUSES",
           "ADJECTIVES", "INTENSIFIERS", "SIGNOFFS", "Voice", "draw_voice", "write_document", "generate",
           "write_longform", "story_markdown", "LONGFORM_DIR"]

LONGFORM_DIR = "longform"  # the subfolder of a mini-LaMP tree that holds this data


@dataclass(frozen=True)
class LongformScale:
    """Authors per split and documents per author (drawn uniformly in ``[docs_min, docs_max]``)."""

    name: str
    n_train: int
    n_dev: int
    n_test: int
    docs_min: int
    docs_max: int

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_dev, self.n_test) < 1:
            raise ValueError(f"scale {self.name!r}: every split needs at least one author")
        if not 2 <= self.docs_min <= self.docs_max:
            raise ValueError(f"scale {self.name!r}: need 2 <= docs_min <= docs_max")


# the names match mini-LaMP's scales, so that `lampkit synth --scale S` writes both at S
SCALES: dict[str, LongformScale] = {
    "tiny": LongformScale("tiny", 16, 6, 12, 6, 8),
    "small": LongformScale("small", 40, 20, 40, 7, 9),
    "default": LongformScale("default", 64, 40, 100, 7, 9),
}


def get_scale(scale: "str | LongformScale | Scale") -> LongformScale:
    """A scale by name, a :class:`LongformScale` itself, or the one named like a mini-LaMP ``Scale``."""
    if isinstance(scale, LongformScale):
        return scale
    if isinstance(scale, Scale):
        scale = scale.name
    if scale not in SCALES:
        raise KeyError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)} or a LongformScale")
    return SCALES[scale]


# ----- the words of a voice (none of them is a topic word of lampkit.data.synth.lexicon) --------------
OPENINGS: tuple[str, ...] = (
    "Well, friends,", "Dear reader,", "Quick note:", "Here is the thing:", "Listen,", "Good morning, all.",
    "So,", "Honestly,", "Hello again.", "A small update:", "Greetings from my desk.", "Right then,",
    "Okay, here goes:", "Just a thought:", "Hey there,", "As promised,",
)
INTROS: tuple[str, ...] = (  # the population's: any author uses any of them
    "today I want to write about the {w1} and the {w2}.",
    "this week was all about the {w1} and the {w2}.",
    "let me tell you about the {w1} and the {w2}.",
    "a few words on the {w1} and the {w2}.",
    "I have been meaning to tell you about the {w1} and the {w2}.",
)
FILLERS: tuple[str, ...] = (  # the population's small talk that pads the preamble ({w}: a topic word)
    "It has been a busy season for the {w} around here.", "Some of you asked me about the {w} last time.",
    "I finally found a quiet hour to write about the {w}.", "The days have been long and the evenings short.",
    "This one has been on my list for a while.", "Pour yourself something warm and settle in.",
    "I promised a longer post about the {w}, so here it is.", "Nothing fancy today, just a few observations.",
    "My notes on the {w} are a mess.", "Be patient with me, this gets a little long.",
    "I scribbled most of this on the back of an envelope.", "It took me a while to put the {w} into words.",
)
STRUCTURES: tuple[tuple[str, str, str], ...] = (  # how the three body clauses are strung together
    ("First, {}.", "Then, {}.", "Finally, {}."),
    ("It began when {}.", "Soon {}.", "In the end, {}."),
    ("On one hand, {}.", "On the other hand, {}.", "Either way, {}."),
    ("Imagine this: {}.", "Meanwhile, {}.", "Long story short, {}."),
    ("To begin with, {}.", "Besides, {}.", "All in all, {}."),
    ("Believe it or not, {}.", "What is more, {}.", "And yes, {}."),
)
CLAUSES: tuple[str, ...] = (
    "{name} and I found a {adj} {w1} near the {w2}",
    "the {w1} was {int} {adj}",
    "we argued about the {w1} and the {w2} for hours",
    "{name} swore the {w1} looked {int} {adj}",
    "nobody expected a {adj} {w1} at the {w2}",
    "I keep thinking about the {w1}, {int} {adj} as it was",
    "the {w1} reminded {name} of a {adj} {w2}",
    "there was a {int} {adj} {w1} waiting for us",
    "{name} brought the {w1} and I brought the {w2}",
    "every {w1} here feels {int} {adj}",
)
ADJECTIVES: tuple[str, ...] = tuple(
    "splendid gritty charming bleak marvelous sturdy peculiar lovely dreadful brilliant humble curious "
    "gloomy vivid clumsy elegant stubborn tender fierce gentle noisy restless dusty golden hollow jolly "
    "murky nimble quirky rusty shabby sleepy soggy spooky tidy wobbly zesty brave chilly cozy".split())
INTENSIFIERS: tuple[str, ...] = tuple(
    "truly frankly utterly remarkably terribly awfully genuinely thoroughly decidedly wildly properly "
    "seriously downright quietly mighty oddly".split())
SIGNOFFS: tuple[str, ...] = (
    "Onward and upward.", "That is all for now.", "Stay kind.", "More soon.", "Take care of yourselves.",
    "Until next time.", "Cheers to that.", "You heard it here first.", "Enough said.", "Keep the faith.",
    "Back to work.", "Trust me on this.", "Such is life.", "Over and out.", "Thanks for reading.",
    "Make of that what you will.",
)

TOPICS_PER_AUTHOR = (4, 5)
FAVOURITES_PER_TOPIC = 4  # concepts an author keeps writing about on a topic
CLAUSES_PER_TOPIC = 2  # clause templates an author keeps to on a topic
P_HABIT = 0.85  # chance that a slot takes the author's habit rather than a population draw
P_DIGRESSION = 0.4  # chance that a document digresses to another of the author's topics
PREAMBLE_CHARS = 150  # small talk is added until the preamble is this long: the voice starts after x_t
START = datetime.date(2012, 1, 1)
END = datetime.date(2019, 12, 31)


@dataclass(frozen=True)
class Voice:
    """What makes an author recognizable: habits of vocabulary, phrasing and structure."""

    opening: str
    fillers: tuple[int, ...]  # the small talk the author pads the preamble with (indices in FILLERS)
    structure: int  # index in STRUCTURES
    adjectives: tuple[str, str]
    intensifier: str
    signoff: str
    topics: tuple[str, ...]
    companions: dict[str, str]  # topic -> the person who shows up in the author's documents on it
    favourites: dict[str, tuple[str, ...]]  # topic -> the word forms the author uses on it
    clauses: dict[str, tuple[int, ...]]  # topic -> the author's clause templates on it (indices in CLAUSES)


def _rng(seed: int) -> random.Random:
    return random.Random(stable_seed(f"mini-lamp/longform/{int(seed)}"))


def draw_voice(rng: random.Random) -> Voice:
    """One author's voice."""
    topics = rng.sample(TOPICS, rng.randint(*TOPICS_PER_AUTHOR))
    companions = dict(zip((t.name for t in topics), rng.sample(ANCHORS, len(topics))))
    favourites = {}
    for t in topics:
        concepts = rng.sample(t.concepts, FAVOURITES_PER_TOPIC)
        favourites[t.name] = tuple(rng.choice((core, *syns)) for core, syns in concepts)
    adjectives = rng.sample(ADJECTIVES, 2)
    clauses = {t.name: tuple(rng.sample(range(len(CLAUSES)), CLAUSES_PER_TOPIC)) for t in topics}
    return Voice(rng.choice(OPENINGS), tuple(rng.sample(range(len(FILLERS)), 3)), rng.randrange(len(STRUCTURES)),
                 (adjectives[0], adjectives[1]), rng.choice(INTENSIFIERS), rng.choice(SIGNOFFS),
                 tuple(t.name for t in topics), companions, favourites, clauses)


_TOPIC = {t.name: t for t in TOPICS}


def _any_word(rng: random.Random, topic: Topic) -> str:
    core, syns = rng.choice(topic.concepts)
    return rng.choice((core, *syns))


def _clause(rng: random.Random, voice: Voice, topic: str) -> str:
    """One body clause; each slot follows the author's habit with probability P_HABIT."""
    def habit() -> bool:
        return rng.random() < P_HABIT

    template = CLAUSES[rng.choice(voice.clauses[topic]) if habit() else rng.randrange(len(CLAUSES))]
    w1, w2 = (w if habit() else _any_word(rng, _TOPIC[topic]) for w in rng.sample(voice.favourites[topic], 2))
    name = voice.companions[topic] if habit() else rng.choice(ANCHORS)
    adj = rng.choice(voice.adjectives) if habit() else rng.choice(ADJECTIVES)
    intensifier = voice.intensifier if habit() else rng.choice(INTENSIFIERS)
    return template.format(w1=w1, w2=w2, name=name, adj=adj, int=intensifier)


def write_document(rng: random.Random, voice: Voice, topic: str) -> str:
    """One document of ``voice`` on ``topic``: a preamble (opening, intro, small talk up to
    PREAMBLE_CHARS), three clauses in the author's structure, maybe a digression, the sign-off."""
    w1, w2 = rng.sample(voice.favourites[topic], 2)
    parts = [voice.opening, rng.choice(INTROS).format(w1=w1, w2=w2)]
    for own in voice.fillers + tuple(rng.sample(range(len(FILLERS)), len(FILLERS))):
        if len(" ".join(parts)) >= PREAMBLE_CHARS:
            break
        filler = FILLERS[own if rng.random() < P_HABIT else rng.randrange(len(FILLERS))]
        word = rng.choice(voice.favourites[topic]) if rng.random() < P_HABIT else _any_word(rng, _TOPIC[topic])
        parts.append(filler.format(w=word))
    structure = STRUCTURES[voice.structure if rng.random() < P_HABIT else rng.randrange(len(STRUCTURES))]
    parts += [frame.format(_clause(rng, voice, topic)) for frame in structure]
    others = [t for t in voice.topics if t != topic]
    if others and rng.random() < P_DIGRESSION:
        parts.append(f"By the way, {_clause(rng, voice, rng.choice(others))}.")
    parts.append(voice.signoff if rng.random() < P_HABIT else rng.choice(SIGNOFFS))
    text = " ".join(parts)
    return text[0].upper() + text[1:]


def _dates(rng: random.Random, n: int) -> list[str]:
    days = sorted(rng.sample(range((END - START).days + 1), n))
    return [(START + datetime.timedelta(days=d)).isoformat() for d in days]


def generate(seed: int = 0, scale: "str | LongformScale | Scale" = "default") -> dict[str, list[Document]]:
    """The documents of every split (authors differ between splits), grouped by author, oldest first."""
    sc = get_scale(scale)
    rng = _rng(seed)
    out: dict[str, list[Document]] = {}
    for s, (split, n_authors) in enumerate(zip(SPLITS, (sc.n_train, sc.n_dev, sc.n_test))):
        docs = []
        for a in range(n_authors):
            author = f"w{s}{a:04d}"
            voice = draw_voice(rng)
            n_docs = rng.randint(sc.docs_min, sc.docs_max)
            topics = [rng.choice(voice.topics) for _ in range(n_docs)]
            for j, date in enumerate(_dates(rng, n_docs)):
                docs.append(Document(author, f"{author}d{j:02d}", date, write_document(rng, voice, topics[j])))
        out[split] = docs
    return out


def write_longform(out_dir: str | Path, seed: int = 0, scale: "str | LongformScale | Scale" = "default") -> list[Path]:
    """Write ``{out_dir}/longform/{train,dev,test}.jsonl``; returns the paths written.

    ``scale``: a name (``tiny``, ``small``, ``default``), a :class:`LongformScale`, or mini-LaMP's
    ``Scale`` of the same name (so ``write_mini_lamp`` can pass its own).
    """
    root = Path(out_dir) / LONGFORM_DIR
    return [write_documents(split_path(root, split), docs) for split, docs in generate(seed, scale).items()]


def story_markdown(scale: str | LongformScale = "default") -> str:
    """The generative story of the long-form data, as markdown for the book."""
    sc = get_scale(scale)
    return f"""\
Each author has a **voice**, drawn once: an opening phrase (one of {len(OPENINGS)}), three sentences
of small talk in a favourite order (of {len(FILLERS)}), a way of stringing three clauses together (one
of {len(STRUCTURES)} structures such as *First, ... Then, ... Finally, ...*), two pet adjectives
(of {len(ADJECTIVES)}), an intensifier (of {len(INTENSIFIERS)}) and a sign-off (of {len(SIGNOFFS)}).
The author writes about {TOPICS_PER_AUTHOR[0]} or {TOPICS_PER_AUTHOR[1]} topics of mini-LaMP's
lexicon, each in its own way: on a topic the author phrases clauses with {CLAUSES_PER_TOPIC} favourite
templates (of {len(CLAUSES)}), a companion (a surname) shows up, and {FAVOURITES_PER_TOPIC} favourite
words recur, each in one fixed form (the core word or one synonym).

A document on one of the author's topics opens with a preamble of at least {PREAMBLE_CHARS}
characters: the opening, an introduction naming two favourite words (the population's phrasing)
and the author's small talk, which mentions the topic too. Then come three clauses in the author's
structure, a digression to another of the author's topics with probability {P_DIGRESSION}, and the
sign-off. Each habit is followed with probability {P_HABIT}; otherwise the slot is drawn from the
whole population. Authors write {sc.docs_min} to {sc.docs_max} documents on random dates between
{START.year} and {END.year}; the splits hold different authors.

The first 150 characters (the immediate context) thus hold the opening, the topic and small talk;
the rest is where the voice shows. The structure, pet words, small talk and sign-off can be read
off any past document of the author; the phrasing, the companion and the favourite words only off
past documents on the same topic. A generator without the past documents can only guess them; ranking the past
documents by their relevance to the immediate context brings the same-topic ones first.
"""
