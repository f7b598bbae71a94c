"""The long-form data generator: determinism, authors with a voice, and files the loader reads."""

import re
from collections import Counter

import pytest

from lampkit.longform import synth
from lampkit.longform.data import CONTEXT_CHARS, build_examples, load_split
from lampkit.longform.synthesis import stop_words
from lampkit.data.synth.lexicon import ANCHORS, WORD_CONCEPT


def test_same_seed_same_bytes_and_only_the_longform_folder_is_written(tmp_path):
    a = synth.write_longform(tmp_path / "a", seed=3, scale="tiny")
    b = synth.write_longform(tmp_path / "b", seed=3, scale="tiny")
    c = synth.write_longform(tmp_path / "c", seed=4, scale="tiny")
    assert [p.relative_to(tmp_path / "a").as_posix() for p in a] == [f"longform/{s}.jsonl" for s in
                                                                        ("train", "dev", "test")]
    assert sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*")) == [
        "longform", "longform/dev.jsonl", "longform/test.jsonl", "longform/train.jsonl"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]


@pytest.mark.parametrize("scale", ["tiny", "small", "default"])
def test_every_scale_loads_with_the_sizes_it_promises(tmp_path, scale):
    synth.write_longform(tmp_path, seed=0, scale=scale)
    sc = synth.get_scale(scale)
    data = synth.generate(0, scale)
    authors = {s: {d.author for d in docs} for s, docs in data.items()}
    assert [len(authors[s]) for s in ("train", "dev", "test")] == [sc.n_train, sc.n_dev, sc.n_test]
    assert not (authors["train"] & authors["dev"]) and not (authors["dev"] & authors["test"])
    counts = Counter(d.author for docs in data.values() for d in docs)
    assert sc.docs_min <= min(counts.values()) and max(counts.values()) <= sc.docs_max
    for split in ("train", "dev", "test"):
        examples = load_split(tmp_path, split)
        assert len(examples) == len(authors[split])
        assert all(ex.date >= max(d.date for d in ex.past) for ex in examples)


def test_voice_words_are_no_topic_words_and_no_stop_words():
    voice = set(synth.ADJECTIVES) | set(synth.INTENSIFIERS)
    assert len(voice) == len(synth.ADJECTIVES) + len(synth.INTENSIFIERS)
    assert not voice & set(WORD_CONCEPT)
    assert not voice & stop_words()
    frames = " ".join([*synth.OPENINGS, *synth.INTROS, *synth.FILLERS, *synth.CLAUSES, *synth.SIGNOFFS,
                       *(f for s in synth.STRUCTURES for f in s)])
    assert not set(re.findall(r"[a-z]+", frames.lower())) & (set(WORD_CONCEPT) | voice)


def test_the_voice_starts_after_the_immediate_context():
    data = synth.generate(0, "small")
    voice = set(synth.ADJECTIVES) | set(synth.INTENSIFIERS) | set(ANCHORS)
    for doc in data["train"]:
        assert not set(re.findall(r"[A-Za-z]+", doc.text[:CONTEXT_CHARS])) & voice, doc.text
        assert doc.text.endswith(".")


def test_an_author_keeps_to_habits_that_other_authors_do_not_share():
    data = synth.generate(0, "small")
    by_author = {}
    for d in data["train"]:
        by_author.setdefault(d.author, []).append(d.text)
    own, others = [], []
    for author, texts in by_author.items():
        signoff = Counter(next(s for s in synth.SIGNOFFS if t.endswith(s)) for t in texts).most_common(1)[0][0]
        own.append(sum(t.endswith(signoff) for t in texts) / len(texts))
        rest = [t for a, ts in by_author.items() if a != author for t in ts]
        others.append(sum(t.endswith(signoff) for t in rest) / len(rest))
    assert sum(own) / len(own) > 0.8
    assert sum(others) / len(others) < 0.15


def test_examples_build_from_every_training_author_with_several_targets():
    docs = synth.generate(1, "tiny")["train"]
    examples = build_examples(docs, targets_per_author=4)
    assert len(examples) == 4 * synth.SCALES["tiny"].n_train
    assert all(len(ex.target) > 100 for ex in examples)


def test_the_story_states_the_numbers_it_uses():
    story = synth.story_markdown("tiny")
    assert f"{synth.SCALES['tiny'].docs_min} to {synth.SCALES['tiny'].docs_max} documents" in story
    assert f"of {len(synth.STRUCTURES)} structures" in story
    with pytest.raises(KeyError, match="unknown scale"):
        synth.get_scale("huge")


def test_mini_lamps_scale_objects_select_the_scale_of_the_same_name():
    from lampkit.data.synth import get_scale as lamp_scale

    assert synth.get_scale(lamp_scale("tiny")) is synth.SCALES["tiny"]
