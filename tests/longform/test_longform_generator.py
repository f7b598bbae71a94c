"""The generator's input sections, the author-distinction pairs and a tiny training run."""

import dataclasses

import pytest

from lampkit.longform.data import Document
from lampkit.longform.generator import (AUTHOR_INSTRUCTION, INSTRUCTION, GeneratorConfig, author_input, author_pairs,
                                        build_input, load_generator, train_generator)

TINY = GeneratorConfig(steps=3, batch_size=4, lr=1e-3, warmup_steps=1, vocab_size=120, d_model=16, d_ff=32, d_kv=8,
                       num_heads=2, max_input_tokens=48, max_target_tokens=8, threads=1)


def test_sections_come_in_order_after_their_prefixes_and_absent_ones_are_left_out():
    full = build_input("Hello there", "A summary.", ["harbor", "Ostrander"], "Past one. Past two.")
    assert full == (f"{INSTRUCTION}. passage start: Hello there summary: A summary. "
                    "important words: harbor, Ostrander past passages: Past one. Past two.")
    assert INSTRUCTION == "Finish the passage in the user voice"
    assert build_input("Hello") == "Finish the passage in the user voice. passage start: Hello"
    assert build_input("Hi", passages="P.") == f"{INSTRUCTION}. passage start: Hi past passages: P."
    assert author_input("x", "y") == ("Predict whether two passages are from the same author. "
                                      "passage 1: x passage 2: y")
    assert AUTHOR_INSTRUCTION.startswith("Predict whether")


def _docs():
    sizes = {"a": 3, "b": 1, "c": 4, "d": 2}
    return [Document(a, f"{a}{i}", "2020", f"text {a}{i} " + "w" * 400) for a, n in sizes.items() for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 9, 200])
def test_author_pairs_are_half_same_author_half_not(n):
    docs = _docs()
    author = {d.text[:350]: d.author for d in docs}
    pairs = author_pairs(docs, n, seed=1, max_chars=350)
    assert len(pairs) == n
    labels = [label for _, label in pairs]
    assert labels.count("true") == n // 2 and labels.count("false") == n - n // 2
    for text, label in pairs:
        first, second = text.removeprefix(f"{AUTHOR_INSTRUCTION}. passage 1: ").split(" passage 2: ")
        assert len(first) == len(second) == 350
        assert (author[first] == author[second]) == (label == "true")
        if label == "true":
            assert first != second  # two different documents
    assert pairs == author_pairs(docs, n, seed=1, max_chars=350)
    if n >= 9:
        assert labels != sorted(labels)  # shuffled


def test_author_pairs_need_two_authors_and_a_pair_of_documents():
    with pytest.raises(ValueError, match="two authors"):
        author_pairs([Document("a", "a1", "2020", "x"), Document("a", "a2", "2020", "y")], 4)
    with pytest.raises(ValueError, match="two authors"):
        author_pairs([Document("a", "a1", "2020", "x"), Document("b", "b1", "2020", "y")], 4)


def test_training_is_deterministic_saves_safetensors_and_fine_tunes(tmp_path):
    inputs = [build_input(f"passage {i} about the harbor", passages="the ship sailed") for i in range(8)]
    targets = [f"the ship {i}" for i in range(8)]
    a = train_generator(tmp_path / "a", inputs, targets, TINY, seed=0)
    b = train_generator(tmp_path / "b", inputs, targets, TINY, seed=0)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    pairs = author_pairs(_docs(), 8, max_chars=40)
    tuned = train_generator(tmp_path / "c", inputs, targets, dataclasses.replace(TINY, steps=2), aux=pairs, init=a)
    assert (tuned / "model.safetensors").read_bytes() != (a / "model.safetensors").read_bytes()
    assert (tuned / "tokenizer.json").read_bytes() == (a / "tokenizer.json").read_bytes()
    outputs = load_generator(tuned, TINY).generate(inputs[:3])
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    with pytest.raises(ValueError, match="as many targets"):
        train_generator(tmp_path / "d", inputs, targets[:-1], TINY)
