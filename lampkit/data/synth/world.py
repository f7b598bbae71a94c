"""The generative story of mini-LaMP: users, their preferences, and each input's evidence.

Per task, users are drawn with a few topics of their own. Every input has a *regime* that decides
which evidence its profile holds and which retriever finds the evidence behind the gold:

- ``plain``: entries on the input's topic share its words and show the user's habit;
- ``lexical``: the input names an anchor (brand, director, method, project, team); entries on
  other topics name it too and show the user's habit for it, which overrides the topic habit
  that paraphrases of the input (synonyms only) show;
- ``semantic``: the entries showing the habit paraphrase the input (synonyms only), while entries
  on other topics share the input's place name, which carries no preference;
- ``drift``: the user changed habit; many old entries close to the input show the old one, the
  newest entries show the new one;
- ``misleading``: entries close to the input show a habit, yet the gold follows the population.

LaMP-1 has no habits to copy: there the evidence points at one of the two references, and both
references carry a name under lexical and semantic, so that the input alone does not tell the answer.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field
from typing import Any

from lampkit.store.digest import stable_seed
from lampkit.data.layout import SPLITS, Example
from lampkit.tasks import Task, get_task
from lampkit.data.synth.citation import Citation
from lampkit.data.synth.family import Content, Family, tokens
from lampkit.data.synth.lexicon import ANCHORS, CORES, PLACES, SYNONYMS, TOPIC_NAMES
from lampkit.data.synth.rating import Rating
from lampkit.data.synth.settings import (BACKGROUND_TOPICS, GROUP_SIZES, INPUT_PERIODS, NEWEST_FREE, P_BACKGROUND_DEFAULT,
                       P_PLACE, REGIME_SHARES, REGIMES, START, Scale, get_scale)
from lampkit.data.synth.styled import EmailSubjects, Headlines, PaperTitles
from lampkit.data.synth.tagging import Tagging
from lampkit.data.synth.tweets import Tweets

__all__ = ["FAMILIES", "family_for", "task_rng", "regime_counts", "generate_task"]

FAMILIES: dict[int, Family] = {f.number: f for f in (Citation(), Tagging(), Rating(), Headlines(),
                                                       PaperTitles(), EmailSubjects(), Tweets())}
_MAX_TRIES = 200


def family_for(task: Task) -> Family:
    return FAMILIES[task.number]


def task_rng(seed: int, number: int) -> random.Random:
    """The random stream of one task: independent of every other task's, the same in every process."""
    return random.Random(stable_seed(f"mini-lamp/{int(seed)}/{int(number)}"))


def regime_counts(n: int) -> dict[str, int]:
    """How many of ``n`` inputs fall in each regime (largest remainder of the shares)."""
    exact = {r: REGIME_SHARES[r] * n for r in REGIMES}
    counts = {r: math.floor(v) for r, v in exact.items()}
    order = sorted(REGIMES, key=lambda r: (-(exact[r] - counts[r]), REGIMES.index(r)))
    for r in order[: n - sum(counts.values())]:
        counts[r] += 1
    return counts


# ----- the plan ----------------------------------------------------------------------------
@dataclass(eq=False)
class _Item:
    role: str  # relevant | decoy | stale | background
    fields: dict[str, str]  # the task's profile fields
    tail: bool = False  # drift: must be among its input's newest items
    position: int = -1  # in the user's timeline, oldest first


@dataclass(eq=False)
class _Input:
    split: str
    index: int
    regime: str
    target_first: bool
    date: datetime.date
    facts: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    output: str = ""
    query: set[str] = field(default_factory=set)
    items: list[_Item] = field(default_factory=list)
    size: int = 0
    target: Content | None = None
    foil: Content | None = None


def _day_between(rng: random.Random, lo: datetime.date, hi: datetime.date) -> datetime.date:
    return lo + datetime.timedelta(days=rng.randrange((hi - lo).days + 1))


def _allocate(rng: random.Random, scale: Scale) -> list[list[_Input]]:
    """The inputs of every user: one train input each for the first users; dev and test inputs
    from returning users (a ``scale.returning`` share) and from new ones."""
    users: list[list[_Input]] = [[] for _ in range(scale.n_train)]
    for split, n in zip(SPLITS, (scale.n_train, scale.n_dev, scale.n_test)):
        if split == "train":
            members = list(range(scale.n_train))
        else:
            n_back = min(round(scale.returning * n), len(users))
            members = rng.sample(range(len(users)), n_back) + list(range(len(users), len(users) + n - n_back))
            users.extend([] for _ in range(n - n_back))
        rng.shuffle(members)
        regimes = [r for r, c in regime_counts(n).items() for _ in range(c)]
        rng.shuffle(regimes)
        firsts = [i % 2 == 0 for i in range(n)]
        rng.shuffle(firsts)
        lo, hi = INPUT_PERIODS[split]
        for index, u in enumerate(members):
            users[u].append(_Input(split, index, regimes[index], firsts[index], _day_between(rng, lo, hi)))
    return users


class _UserBuilder:
    """Builds one user's inputs and profile timeline."""

    def __init__(self, rng: random.Random, task: Task, fam: Family, scale: Scale, uid: int,
                 inputs: list[_Input]) -> None:
        self.rng, self.task, self.fam, self.scale, self.uid, self.inputs = rng, task, fam, scale, uid, inputs
        per_input = 2 if fam.two_refs else 1
        n_bg = rng.randint(*BACKGROUND_TOPICS)
        topics = rng.sample(TOPIC_NAMES, per_input * len(inputs) + n_bg)
        self.reserved = topics[: per_input * len(inputs)]
        # each input text gets its own template; the entry template paired with it (its paraphrase)
        # is kept for the paraphrases of that input
        self.input_frames = rng.sample(range(len(fam.input_frames)), per_input * len(inputs))
        self.free_frames = [k for k in range(len(fam.item_frames)) if k not in self.input_frames]
        self.background = topics[per_input * len(inputs):]
        self.anchors = rng.sample(ANCHORS, len(inputs))
        self.places = rng.sample(PLACES, len(inputs))
        self.other_places = [p for p in PLACES if p not in self.places]
        self.extra_anchors: list[str] = []  # LaMP-1: the foils' anchors under lexical
        self.prefs = {t: self._habit(t) for t in self.background}
        self.allowed = fam.shareable()

    # ----- small draws ------------------------------------------------------------------
    def _habit(self, t: str) -> Any:
        """A topic habit: the population's with P_BACKGROUND_DEFAULT, else a personal one."""
        if self.rng.random() < P_BACKGROUND_DEFAULT:
            return self.fam.default_pref(t)
        return self.rng.choice(list(self.fam.pref_space(t, "topic")))

    def _pick(self, space: Any, avoid: list[Any]) -> Any:
        options = [p for p in space if all(self.fam.distinct(p, a) for a in avoid)]
        return self.rng.choice(options)

    def _word(self, core: str, form: str) -> str:
        syns = SYNONYMS[core]
        if form == "core":
            return core
        if form == "syn":
            return self.rng.choice(syns)
        return self.rng.choice((core, *syns))

    def _content(self, t: str, concepts: list[str], forms: list[str], frame: int, name: str | None = None,
                 kind: str | None = None, like: Content | None = None) -> Content:
        words = tuple(self._word(c, f) for c, f in zip(concepts, forms))
        return Content(t, tuple(concepts), words, frame, name, kind, self.fam.aux(self.rng, like))

    def _fresh(self, t: str, form: str, frame: int, **kw: Any) -> Content:
        concepts = self.rng.sample(CORES[t], 3)
        return self._content(t, concepts, [form] * 3, frame, **kw)

    def _free_frame(self) -> int:
        """An entry template that paraphrases none of the user's inputs."""
        return self.rng.choice(self.free_frames)

    # ----- entries relative to a reference content ----------------------------------------
    def _entry_content(self, mode: str, ref: Content | None, t: str, like: Content | None) -> Content:
        n = self._free_frame()
        if mode == "background":
            place = self.rng.choice(self.other_places) if self.rng.random() < P_PLACE else None
            return self._fresh(t, "mixed", n, name=place, kind="place" if place else None)
        assert ref is not None
        others = [c for c in CORES[ref.topic] if c not in ref.concepts]
        if mode == "exact":  # 2-3 of the input's concepts in the input's words
            k = self.rng.choice((2, 3))
            shared = self.rng.sample(list(ref.concepts), k)
            concepts = shared + self.rng.sample(others, 3 - k)
            forms = ["core"] * k + ["mixed"] * (3 - k)
            order = list(range(3))
            self.rng.shuffle(order)
            return self._content(ref.topic, [concepts[i] for i in order], [forms[i] for i in order], n, like=like)
        if mode == "rich":  # all three concepts in the input's words
            concepts = list(ref.concepts)
            self.rng.shuffle(concepts)
            return self._content(ref.topic, concepts, ["core"] * 3, n, like=like)
        if mode == "light":  # the topic, one of the input's concepts as a synonym
            concepts = [self.rng.choice(ref.concepts)] + self.rng.sample(others, 2)
            self.rng.shuffle(concepts)
            forms = ["syn" if c in ref.concepts else "mixed" for c in concepts]
            return self._content(ref.topic, concepts, forms, n, like=like)
        if mode == "paraphrase":  # the input's concepts as synonyms, in the template paired with its own
            concepts = list(ref.concepts)
            self.rng.shuffle(concepts)
            return self._content(ref.topic, concepts, ["syn"] * 3, ref.frame, like=like)
        if mode == "named":  # another topic, the input's name
            return self._fresh(t, "mixed", n, name=ref.name, kind=ref.name_kind, like=like)
        raise ValueError(f"unknown entry mode {mode!r}")

    def _entry(self, role: str, mode: str, ref: Content | None, pref: Any, t: str | None = None,
               like: Content | None = None) -> _Item:
        """An entry whose text shares nothing with any input of the user beyond what its mode intends."""
        for _ in range(_MAX_TRIES):
            content = self._entry_content(mode, ref, t or ref.topic, like)  # type: ignore[union-attr]
            fields = self.fam.item_fields(content, pref)
            toks = tokens(" ".join(fields[f] for f in self.task.index_fields))
            if all(self._clean(toks, inp, mode, content) for inp in self.inputs):
                return _Item(role, fields)
        raise RuntimeError(f"{self.task.name}: cannot draw a {mode} entry for user {self.uid} "
                           "without unintended word overlap (templates share words?)")

    def _clean(self, toks: set[str], inp: _Input, mode: str, content: Content) -> bool:
        refs = (inp.target, inp.foil)
        if mode in ("exact", "rich", "light") and content.topic in {r.topic for r in refs if r}:
            return True  # shares the input's words on purpose
        shared = toks & inp.query - self.allowed
        if mode == "named" and content.name in {r.name for r in refs if r}:
            shared.discard(content.name)  # the input's name, on purpose
        return not shared

    # ----- inputs -------------------------------------------------------------------------
    def plan_inputs(self) -> None:
        fam = self.fam
        for i, inp in enumerate(self.inputs):
            lexical = inp.regime == "lexical"
            name, kind = (self.anchors[i], "anchor") if lexical else (self.places[i], "place")
            if fam.two_refs:
                t_target, t_foil = self.reserved[2 * i], self.reserved[2 * i + 1]
                names = self._ref_names(inp.regime, name, kind)
                inp.target = self._fresh(t_target, "core", self.input_frames[2 * i], **names[0])
                inp.foil = self._fresh(t_foil, "core", self.input_frames[2 * i + 1], **names[1])
            else:
                t_in = self.reserved[i]
                inp.target = inp.foil = self._fresh(t_in, "core", self.input_frames[i], name=name, kind=kind)
            self._plan_prefs(inp, name)
            self._render_input(inp)

    def _ref_names(self, regime: str, name: str, kind: str) -> tuple[dict[str, str], dict[str, str]]:
        """LaMP-1: the name clauses of the reference to choose and of the foil.

        Under lexical both references name an anchor (the target the user's, the foil another that no
        entry names), under semantic both a place (the foil the one the decoys share, the target
        another); otherwise one of them, at random, names the input's place. So which reference
        carries a name, or which kind, never tells the answer: only the profile does.
        """
        named = {"name": name, "kind": kind}
        if regime == "lexical":
            other = self.rng.choice([a for a in ANCHORS if a not in self.anchors and a not in self.extra_anchors])
            self.extra_anchors.append(other)
            return named, {"name": other, "kind": "anchor"}
        if regime == "semantic":
            other = self.rng.choice(self.other_places)
            self.other_places.remove(other)  # no background entry names it
            return {"name": other, "kind": "place"}, named
        return (named, {}) if self.rng.random() < 0.5 else ({}, named)

    def _plan_prefs(self, inp: _Input, name: str) -> None:
        fam, target = self.fam, inp.target
        assert target is not None and inp.foil is not None
        t_in = target.topic
        default = fam.default_pref(t_in)
        space = list(fam.pref_space(t_in, "topic"))
        f = inp.facts
        f.update(topic=t_in, key=t_in, key_kind="topic", name=name,  # LaMP-1: the name the profile may hold
                 name_kind=target.name_kind or inp.foil.name_kind, old=None, foil_pref=None, pref=None)
        if inp.regime == "lexical":
            f.update(key=name, key_kind="anchor")
        if fam.two_refs and inp.regime == "misleading":
            f["key"] = inp.foil.topic
        if not fam.has_prefs:
            f.update(default=None, gold=None)
            return
        if inp.regime == "lexical":
            topic_habit = self._habit(t_in)
            f["foil_pref"] = topic_habit
            f["pref"] = self._pick(fam.pref_space(name, "anchor"), [topic_habit, default])
        elif inp.regime == "drift":
            f["pref"] = self._pick(space, [default])
            f["old"] = self._pick(space + [default], [f["pref"]])
        else:
            f["pref"] = self._pick(space, [default])
        f["default"] = default
        f["gold"] = default if inp.regime == "misleading" else f["pref"]

    def _render_input(self, inp: _Input) -> None:
        fam, task = self.fam, self.task
        assert inp.target is not None and inp.foil is not None
        if fam.two_refs:
            assert isinstance(fam, Citation)
            if inp.regime == "misleading":  # the paper's own title is on the reference's subject
                title = self._entry_content("exact", inp.target, inp.target.topic, None)
            else:
                title = self._fresh(self.rng.choice(self.background), "core", self._free_frame())
            inp.facts["title_topic"] = title.topic
            inp.text = fam.make_refs_input(task, title, inp.target, inp.foil, inp.target_first)
            gold, other = ("[1]", "[2]") if inp.target_first else ("[2]", "[1]")
            inp.output = gold
            mis = inp.regime == "misleading"
            inp.facts.update(default_output=gold if mis else None, personal_output=other if mis else gold)
        else:
            inp.text = fam.make_input(task, inp.target)
            inp.output = fam.output(inp.target, inp.facts["gold"])
            inp.facts.update(default_output=fam.output(inp.target, inp.facts["default"]),
                             personal_output=fam.output(inp.target, inp.facts["pref"]))
        inp.query = tokens(task.query(inp.text) or "")

    # ----- evidence -----------------------------------------------------------------------------
    def plan_evidence(self) -> None:
        for inp in self.inputs:
            self._evidence(inp)

    def _named_topics(self, avoid: Any) -> list[str]:
        ok = [t for t in self.background if not self.fam.has_prefs or self.fam.distinct(self.prefs[t], avoid)]
        return ok or list(self.background)

    def _evidence(self, inp: _Input) -> None:
        rng, f = self.rng, inp.facts
        target, foil = inp.target, inp.foil
        assert target is not None and foil is not None
        size = lambda key: rng.randint(*GROUP_SIZES[key])  # noqa: E731
        n_rel = size("contrast" if inp.regime in ("lexical", "semantic") else "relevant")
        items = inp.items
        add = items.append
        if inp.regime == "plain":
            for _ in range(n_rel):
                add(self._entry("relevant", "exact", target, f["pref"], like=target))
        elif inp.regime == "misleading":
            for _ in range(n_rel):
                add(self._entry("relevant", "exact", foil, f["pref"], like=foil))
        elif inp.regime == "lexical":
            for _ in range(n_rel):
                add(self._entry("relevant", "named", target, f["pref"], t=rng.choice(self.background),
                                like=target))
            for _ in range(n_rel):
                add(self._entry("decoy", "paraphrase", foil, f["foil_pref"]))
        elif inp.regime == "semantic":
            for _ in range(n_rel):
                add(self._entry("relevant", "paraphrase", target, f["pref"], like=target))
            topics = self._named_topics(f["pref"])
            for _ in range(n_rel):
                t = rng.choice(topics)
                add(self._entry("decoy", "named", foil, self.prefs[t], t=t))
        elif inp.regime == "drift":
            for _ in range(size("stale")):
                add(self._entry("stale", "rich", foil, f["old"], like=foil))
            # LaMP-1 has no habit to show lightly: the new papers share words with the reference to choose
            new_mode = "exact" if self.fam.two_refs else "light"
            for _ in range(size("new")):
                item = self._entry("relevant", new_mode, target, f["pref"], like=target)
                item.tail = True
                add(item)
        else:
            raise ValueError(f"unknown regime {inp.regime!r}")

    # ----- timeline ----------------------------------------------------------------------------
    def _draw_size(self) -> int:
        lo, hi = self.scale.profile_min, self.scale.profile_max
        return int(round(math.exp(self.rng.uniform(math.log(lo), math.log(hi)))))

    def place(self) -> list[_Item]:
        """Positions (oldest first) of every entry; background entries fill the gaps."""
        rng = self.rng
        raw = sorted(self._draw_size() for _ in self.inputs)
        prev = 0
        for inp, s in zip(self.inputs, raw):
            need = len(inp.items) + NEWEST_FREE
            inp.size = max(s, prev + need)
            prev = inp.size
        total = self.inputs[-1].size
        slots: list[_Item | None] = [None] * total
        for inp in self.inputs:  # drift: the new-habit entries are the newest before the input
            tail = [it for it in inp.items if it.tail]
            for k, item in enumerate(tail):
                item.position = inp.size - len(tail) + k
                slots[item.position] = item
        for inp in self.inputs:
            for item in inp.items:
                if item.tail:
                    continue
                limit = inp.size - NEWEST_FREE if item.role in ("relevant", "stale") else inp.size
                free = [p for p in range(limit) if slots[p] is None]
                item.position = rng.choice(free)
                slots[item.position] = item
        for p in range(total):
            if slots[p] is None:
                t = rng.choice(self.background)
                item = self._entry("background", "background", None, self.prefs[t], t=t)
                item.position = p
                slots[p] = item
        return slots  # type: ignore[return-value]

    def dates(self, total: int) -> list[datetime.date]:
        """Distinct, increasing dates: each input's new entries fall after the previous input."""
        out: list[datetime.date] = []
        lo, start = START, 0
        for inp in self.inputs:
            n = inp.size - start
            span = (inp.date - lo).days - 1
            days = sorted(self.rng.sample(range(span), n))
            out.extend(lo + datetime.timedelta(days=1 + d) for d in days)
            lo, start = inp.date, inp.size
        assert len(out) == total
        return out


def _build_user(rng: random.Random, task: Task, fam: Family, scale: Scale, uid: int,
                inputs: list[_Input]) -> list[tuple[_Input, Example]]:
    b = _UserBuilder(rng, task, fam, scale, uid, inputs)
    b.plan_inputs()
    b.plan_evidence()
    slots = b.place()
    dates = b.dates(len(slots))
    records = []
    for item, day in zip(slots, dates):
        records.append({"id": f"{task.number}{uid:05d}{item.position:03d}",
                        **{k: item.fields[k] for k in task.profile_fields}, "date": day.isoformat()})
    out = []
    for inp in inputs:
        profile = records[: inp.size]
        order = list(range(inp.size))
        rng.shuffle(order)
        ids = lambda role: [records[it.position]["id"] for it in inp.items if it.role == role]  # noqa: E731
        f = inp.facts
        tail = [dates[it.position] for it in inp.items if it.tail]
        latent = {
            "regime": inp.regime,
            "date": inp.date.isoformat(),
            "topic": f["topic"],
            "key": f["key"],
            "key_kind": f["key_kind"],
            "name": f["name"],
            "name_kind": f["name_kind"],
            "preference": fam.pref_json(f["pref"]),
            "old_preference": fam.pref_json(f["old"]) if f["old"] is not None else None,
            "change_date": min(tail).isoformat() if tail else None,
            "gold_follows": "default" if inp.regime == "misleading" else "personal",
            "default_output": f["default_output"],
            "personal_output": f["personal_output"],
            "relevant_profile_ids": ids("relevant"),
            "stale_profile_ids": ids("stale"),
            "decoy_profile_ids": ids("decoy"),
        }
        if fam.two_refs:
            assert inp.foil is not None
            latent.update(foil_topic=inp.foil.topic, title_topic=f["title_topic"])
        ex = Example(id=f"{task.number}{SPLITS.index(inp.split)}{inp.index:04d}", input=inp.text,
                     profile=[profile[j] for j in order], user_id=f"u{task.number}{uid:05d}",
                     output=inp.output, extra=latent)
        out.append((inp, ex))
    return out


def generate_task(task: str | Task, scale: str | Scale = "default", seed: int = 0) -> dict[str, list[Example]]:
    """The train, dev and test examples of one task; ``Example.extra`` holds the latent facts."""
    t = get_task(task)
    sc = get_scale(scale)
    fam = family_for(t)
    rng = task_rng(seed, t.number)
    users = _allocate(rng, sc)
    splits: dict[str, list[Example | None]] = {
        s: [None] * n for s, n in zip(SPLITS, (sc.n_train, sc.n_dev, sc.n_test))}
    for uid, inputs in enumerate(users):
        for inp, ex in _build_user(rng, t, fam, sc, uid, inputs):
            splits[inp.split][inp.index] = ex
    return {s: [ex for ex in exs if ex is not None] for s, exs in splits.items()}

