"""The interaction head of the RSPG selector: shapes and masking, seeding, saving, what it learns
that a linear head on the whole text's embedding does not, and its place in the artifact key."""

import json

import numpy as np
import pytest
import torch

from lampkit.retrievers.embedding_cache import EmbeddingCache
from lampkit.rspg.selector import (InteractionHead, Selector, SelectorParts, entry_texts, input_fits, kl_loss, predict,
                                   selector_text, success_rate, target_distribution, train_selector)
from lampkit.store.cache import ArtifactCache, cache_key
from lampkit.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = get_task("lamp7")  # entries '"{content}"' of the profile's text
TOPICS = [("physician", "doctor", "patient", "treated", "cured", "sick"),
          ("stock", "markets", "fell", "sharply", "rose", "world"),
          ("movie", "film", "review", "great", "love", "hate"),
          ("book", "story", "read", "write", "paper", "title")]
POOL = 3
K = 2


def matching_problem(n, seed):
    """Per input a sentence on one topic and a pool of three retrievers, each retrieving two entries
    on one topic; the retriever whose entries share the input's topic is the best (EVAL 1), the
    others 0. Every topic is as often the input's as another retriever's, so which retriever is best
    depends on how the input and the entries relate, not on either alone."""
    rng = np.random.default_rng(seed)
    items, inputs, evals = [], [], np.zeros((n, POOL))
    for i in range(n):
        topic = int(rng.integers(len(TOPICS)))
        right = int(rng.integers(POOL))
        others = [t for t in rng.permutation(len(TOPICS)).tolist() if t != topic]
        topics = [topic if j == right else others.pop() for j in range(POOL)]
        inputs.append("the " + " ".join(rng.choice(TOPICS[topic], size=4)))
        items.append([[{"text": " ".join(rng.choice(TOPICS[t], size=4)), "id": f"{i}-{j}-{m}", "date": "2020"}
                       for m in range(K)] for j, t in enumerate(topics)])
        evals[i, right] = 1.0
    return inputs, items, evals


def as_parts(inputs, items, outputs=None):
    return [SelectorParts(inp, tuple(entry_texts(TASK, its) for its in row),
                          None if outputs is None else tuple(outputs[i]))
            for i, (inp, row) in enumerate(zip(inputs, items))]


def as_texts(inputs, items, tokenizer, max_length):
    return [[selector_text(TASK, inp, its, tokenizer, max_length) for its in row] for inp, row in zip(inputs, items)]


COMMON = dict(epochs=30, lr=1e-2, batch_size=4, max_length=64, seed=0, trainable_layers=0, device="cpu")


@pytest.fixture(scope="module")
def problem():
    return matching_problem(48, seed=0)


@pytest.fixture(scope="module")
def interaction(tiny_encoder_dir, problem):
    inputs, items, evals = problem
    return train_selector(as_parts(inputs, items), evals, str(tiny_encoder_dir), head="interaction", **COMMON)


# --- (1) shapes and masking ---------------------------------------------------------------------


def test_head_shapes_and_an_input_without_entries():
    torch.manual_seed(0)
    head = InteractionHead(8, with_output=False, hidden=16)
    u, e = torch.randn(2, 8), torch.randn(2, 3, 4, 8)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[0, 0] = False  # no personalization: no entries at all
    mask[1, 2, 2:] = False  # two entries of four
    scores = head(u, e, mask)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()
    scores.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    # absent entries change nothing, whatever their embedding
    e2 = e.clone()
    e2[0, 0] = 1e6
    e2[1, 2, 2:] = -5.0
    torch.testing.assert_close(head(u, e2, mask), scores)
    with pytest.raises(ValueError, match="outputs"):
        head(u, e, mask, torch.randn(2, 3, 8))
    post = InteractionHead(8, with_output=True, hidden=16)
    assert post(u, e, mask, torch.randn(2, 3, 8)).shape == (2, 3)


def test_selector_scores_parts_with_empty_retrievers(tiny_encoder_dir, tmp_path):
    torch.manual_seed(0)
    sel = Selector.from_encoder(str(tiny_encoder_dir), max_length=32, device="cpu", frozen=True, head="interaction")
    parts = [SelectorParts("the doctor", ((), ('"the patient"',), ('"stock markets"', '"the film"'))),
             SelectorParts("a book", ((), (), ()))]  # every retriever without entries
    with torch.inference_mode():
        scores = sel(parts)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()
    # nothing tells the retrievers apart: equal up to rounding (a batched matmul can round its rows
    # differently: on an AVX-512 host the three differed in the last bit)
    torch.testing.assert_close(scores[1], scores[1, :1].expand(3), rtol=0, atol=1e-6)
    assert predict(sel, parts).tolist()[1] == 0  # a tie goes to the first
    with pytest.raises(ValueError, match="outputs"):
        sel([SelectorParts("the doctor", ((), ()), ("yes", "no"))])
    with pytest.raises(ValueError, match="frozen"):
        Selector.from_encoder(str(tiny_encoder_dir), max_length=32, device="cpu", head="interaction")
    with pytest.raises(ValueError, match="trainable_layers"):
        train_selector(parts, np.zeros((2, 3)), str(tiny_encoder_dir), head="interaction", trainable_layers=None)


def test_every_distinct_part_is_embedded_once(tiny_encoder_dir, tmp_path, problem):
    inputs, items, evals = problem
    parts = as_parts(inputs[:8], items[:8])
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    train_selector(parts, evals[:8], str(tiny_encoder_dir), head="interaction", cache=cache, **{**COMMON, "epochs": 1})
    distinct = {p.input for p in parts} | {e for p in parts for row in p.entries for e in row}
    assert len(cache) == len(distinct)


# --- (2) seeding and (3) saving -----------------------------------------------------------------


def test_training_is_seeded_bit_for_bit(tiny_encoder_dir, problem, interaction):
    inputs, items, evals = problem
    parts = as_parts(inputs, items)
    again = train_selector(parts, evals, str(tiny_encoder_dir), head="interaction", **COMMON)
    with torch.inference_mode():
        assert torch.equal(again(parts[:10]), interaction(parts[:10]))
    assert again.history == interaction.history
    other = train_selector(parts, evals, str(tiny_encoder_dir), head="interaction", **{**COMMON, "seed": 1, "epochs": 1})
    with torch.inference_mode():
        assert not torch.equal(other(parts[:10]), interaction(parts[:10]))


def test_save_and_load_round_trip_gives_the_same_scores(tmp_path, tiny_encoder_dir, problem, interaction):
    inputs, items, _ = problem
    folder = interaction.save_pretrained(tmp_path / "head")
    assert (folder / "head.safetensors").is_file() and not (folder / "encoder").exists()
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
    config = json.loads((folder / "selector.json").read_text())
    assert config["head"] == "interaction" and config["with_output"] is False
    loaded = Selector.from_pretrained(folder, device="cpu")
    assert loaded.head_kind == "interaction" and isinstance(loaded.head, InteractionHead)
    assert loaded.history == interaction.history and loaded.best_epoch == interaction.best_epoch
    held_out = as_parts(*matching_problem(6, seed=5)[:2])
    with torch.inference_mode():
        assert torch.equal(loaded(held_out), interaction(held_out))


def test_post_reads_the_outputs_and_round_trips(tmp_path, tiny_encoder_dir, problem):
    inputs, items, evals = problem
    outputs = [[f"answer {j}" for j in range(POOL)] for _ in inputs[:12]]
    parts = as_parts(inputs[:12], items[:12], outputs)
    sel = train_selector(parts, evals[:12], str(tiny_encoder_dir), head="interaction", **{**COMMON, "epochs": 2})
    assert sel.with_output and sel.head.with_output
    loaded = Selector.from_pretrained(sel.save_pretrained(tmp_path / "post"), device="cpu")
    with torch.inference_mode():
        assert torch.equal(loaded(parts), sel(parts))
    with pytest.raises(ValueError, match="outputs"):
        predict(sel, as_parts(inputs[:2], items[:2]))


# --- (4) what it learns -------------------------------------------------------------------------


def test_the_interaction_head_learns_what_the_linear_head_cannot(tiny_encoder_dir, problem, interaction):
    inputs, items, evals = problem
    tok = Selector.from_encoder(str(tiny_encoder_dir), device="cpu").tokenizer
    linear = train_selector(as_texts(inputs, items, tok, COMMON["max_length"]), evals, str(tiny_encoder_dir),
                            head="linear", **COMMON)
    assert len(linear.history) == len(interaction.history) == COMMON["epochs"]
    # the training loss after the same epochs: well below the linear head's
    assert interaction.history[-1] < 0.5 * linear.history[-1]
    with torch.inference_mode():
        target = torch.as_tensor(target_distribution(evals), dtype=torch.float32)
        assert kl_loss(interaction(as_parts(inputs, items)), target) < kl_loss(
            linear(as_texts(inputs, items, tok, COMMON["max_length"])), target)
    # and it generalises to held-out inputs
    h_inputs, h_items, h_evals = matching_problem(24, seed=1)
    assert success_rate(predict(interaction, as_parts(h_inputs, h_items)), h_evals) >= 0.7


# --- (5) the artifact key and the coverage -------------------------------------------------------


class RecordingCache(ArtifactCache):
    def __init__(self, root):
        super().__init__(root)
        self.keys = []

    def get_or_build(self, stage, config, build, modules=()):
        self.keys.append(cache_key(stage, config, modules))
        return super().get_or_build(stage, config, build, modules)


def test_the_cache_key_holds_the_head_and_the_parts(tmp_path, tiny_encoder_dir, problem, monkeypatch):
    from lampkit.rspg.stage import RspgConfig, fit_selector

    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    inputs, items, evals = problem
    parts, texts = as_parts(inputs[:6], items[:6]), as_texts(inputs[:6], items[:6],
                                                                Selector.from_encoder(str(tiny_encoder_dir)).tokenizer, 64)
    config = RspgConfig(encoder=str(tiny_encoder_dir), max_length=64, epochs=1, dev_share=0.0)
    artifacts = RecordingCache(tmp_path / "artifacts")
    first = fit_selector(parts, evals[:6], config, artifacts)
    assert first.head_kind == "interaction"
    loaded = fit_selector(parts, evals[:6], config, artifacts)  # the same key: loaded, the same head
    assert artifacts.keys[0] == artifacts.keys[1] and loaded.head_kind == "interaction"
    linear = fit_selector(texts, evals[:6], config.with_(head="linear"), artifacts)
    assert linear.head_kind == "linear" and artifacts.keys[2] != artifacts.keys[0]
    # one entry's text changed: other parts, another key
    changed = [parts[0]._replace(entries=(('"another entry"',), *parts[0].entries[1:])), *parts[1:]]
    fit_selector(changed, evals[:6], config, artifacts)
    assert artifacts.keys[3] not in artifacts.keys[:3]
    with pytest.raises(ValueError, match="SelectorParts"):
        fit_selector(texts, evals[:6], config, artifacts)


def test_input_fits_counts_the_inputs_within_the_window(tiny_encoder):
    tok = tiny_encoder.tokenizer
    assert input_fits(["the man was", "the book"], tok, 5) == 1.0  # [CLS] + 3 + [SEP]
    assert input_fits(["the man was", "the book"], tok, 4) == 0.5
    with pytest.raises(ValueError):
        input_fits([], tok, 4)
