"""RSPG pieces: oracle bounds, success rate, the KL target and loss, the selector's texts, tiny trained selectors."""

import json
import math

import numpy as np
import pytest
import torch

from lampkit.retrievers.embedding_cache import EmbeddingCache
from lampkit.retrievers.encoders import load_encoder
from lampkit.rspg.selector import (OUTPUT_SHARE, Selector, input_coverage, keep_bottom_layers, kl_loss, oracle_bounds,
                                   oracle_choices, predict, selector_text, success_rate, target_distribution,
                                   train_selector)
from lampkit.tasks import HFTokenCounter, get_task


pytestmark = pytest.mark.usefixtures("one_thread")


# --- oracle bounds and success rate ----------------------------------------------------------


def test_oracle_bounds_hand_computed_both_directions():
    m = np.array([[0.2, 0.5, 0.1], [1.0, 1.0, 1.0], [0.0, 0.3, 0.9]])
    lower, upper = oracle_bounds(m, higher_is_better=True)
    np.testing.assert_allclose(lower, [0.1, 1.0, 0.0])
    np.testing.assert_allclose(upper, [0.5, 1.0, 0.9])
    # MAE: the best retriever (upper bound) has the smallest error
    errors = np.array([[1.0, 0.0, 2.0], [3.0, 3.0, 1.0]])
    bounds = oracle_bounds(errors, higher_is_better=False)
    np.testing.assert_allclose(bounds.lower, [2.0, 3.0])
    np.testing.assert_allclose(bounds.upper, [0.0, 1.0])


@pytest.mark.parametrize("higher", [True, False])
def test_oracle_bounds_enclose_every_retriever(higher):
    m = np.random.default_rng(0).integers(0, 5, size=(40, 6)).astype(float)
    lower, upper = oracle_bounds(m, higher)
    sign = 1.0 if higher else -1.0
    for col in m.T:
        assert np.all(sign * lower <= sign * col) and np.all(sign * col <= sign * upper)
    # the bounds are attained by some retriever on every input
    assert np.all((m == lower[:, None]).any(axis=1)) and np.all((m == upper[:, None]).any(axis=1))


def test_oracle_choices_hand_computed():
    m = np.array([[0.2, 0.5, 0.1], [1.0, 1.0, 0.0], [0.0, 0.3, 0.9]])
    assert oracle_choices(m).tolist() == [1, 0, 2]  # the tie on row 1 goes to the first
    assert oracle_choices(m, upper=False).tolist() == [2, 2, 0]
    # errors: the best is the smallest
    assert oracle_choices(m, higher_is_better=False).tolist() == [2, 2, 0]
    assert oracle_choices(m, higher_is_better=False, upper=False).tolist() == [1, 0, 2]
    assert success_rate(oracle_choices(m), m) == 1.0
    np.testing.assert_allclose(m[np.arange(3), oracle_choices(m)], oracle_bounds(m).upper)
    with pytest.raises(ValueError):
        oracle_choices(np.zeros((2, 0)))


def test_success_rate_ties_and_oracle():
    m = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.2, 0.5, 0.1]])
    # row 0: either tied best succeeds; row 1: all tied; row 2: 0.2 is not the best
    assert success_rate([1, 2, 0], m) == pytest.approx(2 / 3)
    assert success_rate([2, 0, 1], m) == pytest.approx(2 / 3)
    assert success_rate([1, 2, 2], m, higher_is_better=False) == pytest.approx(2 / 3)
    rng = np.random.default_rng(1)
    big = rng.integers(0, 3, size=(50, 6)).astype(float)
    assert success_rate(big.argmax(axis=1), big) == 1.0
    assert success_rate(big.argmin(axis=1), big, higher_is_better=False) == 1.0
    with pytest.raises(ValueError):
        success_rate([0, 1], m)
    with pytest.raises(ValueError):
        success_rate([0, 1, 3], m)


# --- target and loss -------------------------------------------------------------------------


def test_target_distribution_numpy_and_torch():
    e = np.array([[0.0, math.log(3.0)], [1000.0, 1000.0], [1.0, 0.0]])
    t = target_distribution(e)
    np.testing.assert_allclose(t[0], [0.25, 0.75])
    np.testing.assert_allclose(t[1], [0.5, 0.5])
    np.testing.assert_allclose(t[2], [math.e / (math.e + 1), 1 / (math.e + 1)])
    tt = target_distribution(torch.tensor(e))
    assert isinstance(tt, torch.Tensor)
    np.testing.assert_allclose(tt.numpy(), t)


def test_kl_loss_hand_computed_with_zero_target():
    logits = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    target = torch.tensor([[0.25, 0.75, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    # row 0: q = 1/5 3/5 1/5 -> 0.25 ln(1.25) + 0.75 ln(1.25) + 0 ln 0 = ln 1.25; row 1: q = target -> 0
    loss = kl_loss(logits, target)
    assert loss.item() == pytest.approx(math.log(1.25) / 2, rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    # gradient of the batch mean: (softmax(logits) - target) / batch
    expected = (torch.softmax(logits.detach(), -1) - target) / 2
    torch.testing.assert_close(logits.grad, expected)
    with pytest.raises(ValueError):
        kl_loss(logits[:, :2], target)


# --- the selector's text ----------------------------------------------------------------------


def _lamp3_case(n_items=4, words=12):
    t = get_task("lamp3")
    inp = t.make_input(text="the movie was about a man")
    first = ("doctor", "patient", "stock", "markets", "woman", "physician")
    items = [{"id": str(j), "date": "2020-01-01", "score": str(1 + j % 5),
              "text": " ".join([first[j]] + ["the book was good"] * (words // 4))} for j in range(n_items)]
    return t, inp, items


def test_selector_text_keeps_the_whole_input_and_a_share_of_every_entry(tiny_encoder):
    tok = tiny_encoder.tokenizer
    t, inp, items = _lamp3_case(words=40)
    full = t.build_prompt(inp, items, HFTokenCounter(tok), 512)
    window = len(tok(inp)["input_ids"]) + 80
    # the prompt as the LLM reads it, cut at the window's end, loses the input (it comes last)
    assert input_coverage([full], [inp], tok, window) == 0.0
    text = selector_text(t, inp, items, tok, window)
    assert len(tok(text)["input_ids"]) <= window
    assert input_coverage([text], [inp], tok, window) == 1.0
    assert all(f'"{item["text"].split()[0]} the book' in text for item in items)  # every entry keeps its start
    # a window too small for four entries' templates keeps the best-ranked ones, and the whole input
    tight = len(tok(inp)["input_ids"]) + 30
    text = selector_text(t, inp, items, tok, tight)
    assert len(tok(text)["input_ids"]) <= tight and input_coverage([text], [inp], tok, tight) == 1.0
    assert '"doctor' in text and '"markets' not in text


def test_selector_text_for_post_appends_the_output_within_its_share(tiny_encoder):
    tok = tiny_encoder.tokenizer
    t, inp, items = _lamp3_case(words=40)
    window = len(tok(inp)["input_ids"]) + 60
    text = selector_text(t, inp, items, tok, window, output="great story")
    assert text.endswith(" great story") and len(tok(text)["input_ids"]) <= window
    assert input_coverage([text], [inp], tok, window) == 1.0
    long_output = " ".join(["good"] * 100)
    text = selector_text(t, inp, items, tok, window, output=long_output)
    kept = text[text.rindex(inp) + len(inp):]  # the input comes last in the prompt; the output follows
    assert 0 < kept.split().count("good") <= int(OUTPUT_SHARE * window)
    assert input_coverage([text], [inp], tok, window) == 1.0


def test_input_coverage_counts_inputs_cut_by_the_window(tiny_encoder):
    tok = tiny_encoder.tokenizer
    texts = ["the man was good", "the movie was about a man and the book"]
    assert input_coverage(texts, ["man was", "the book"], tok, 8) == 0.5  # 6 of 9 tokens fit in 8 - 2
    assert input_coverage(texts, ["man was", "the book"], tok, 64) == 1.0
    with pytest.raises(ValueError):
        input_coverage(texts, ["man"], tok, 8)


# --- a tiny selector -------------------------------------------------------------------------

FILLER = "the a of and to in is was for on with by at from as it this that an be".split()
MARKER = "physician"
POOL = 3


def marker_problem(n, seed):
    """Per input three word salads; the one at a seeded position contains the marker (EVAL 1)."""
    rng = np.random.default_rng(seed)
    texts, evals = [], np.zeros((n, POOL))
    for i in range(n):
        right = int(rng.integers(POOL))
        group = []
        for j in range(POOL):
            words = list(rng.choice(FILLER, size=6))
            if j == right:
                words[int(rng.integers(6))] = MARKER
            group.append(" ".join(words))
        texts.append(group)
        evals[i, right] = 1.0
    return texts, evals


SETTINGS = dict(epochs=12, lr=3e-3, batch_size=4, max_length=16, seed=7, device="cpu")


@pytest.fixture(scope="module")
def problem():
    return marker_problem(16, seed=0)


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir, problem):
    texts, evals = problem
    return train_selector(texts, evals, str(tiny_encoder_dir), **SETTINGS)


def train_loss(selector, texts, evals):
    with torch.inference_mode():
        return kl_loss(selector.eval()(texts), torch.as_tensor(target_distribution(evals), dtype=torch.float32)).item()


def test_selector_learns_the_marker(tiny_encoder_dir, problem, trained):
    texts, evals = problem
    torch.manual_seed(SETTINGS["seed"])
    untrained = Selector.from_encoder(str(tiny_encoder_dir), max_length=16, device="cpu")
    assert train_loss(trained, texts, evals) < 0.5 * train_loss(untrained, texts, evals)
    assert trained.history[-1] < trained.history[0]
    held_out, held_evals = marker_problem(12, seed=1)
    chosen = predict(trained, held_out, batch_size=5)
    assert chosen.dtype == np.int64 and chosen.shape == (12,)
    assert success_rate(chosen, held_evals) >= 0.75


def test_selector_forward_shape_and_bad_groups(trained):
    assert trained([["a b", "c", "the"], ["x", "y", "z"]]).shape == (2, 3)
    with pytest.raises(ValueError):
        trained([["a", "b", "c"], ["a", "b"]])
    with pytest.raises(ValueError):
        train_selector([["a", "b"]], np.zeros((1, 3)), "unused")


def test_training_is_seeded(tiny_encoder_dir, problem, trained):
    texts, evals = problem
    again = train_selector(texts, evals, str(tiny_encoder_dir), **SETTINGS)
    first, second = trained.state_dict(), again.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert again.history == trained.history
    other = train_selector(texts, evals, str(tiny_encoder_dir), **{**SETTINGS, "seed": 8, "epochs": 1})
    assert not torch.equal(other.head.weight, trained.head.weight)


def test_trainable_layers_freezes_the_rest(tiny_encoder_dir, problem):
    texts, evals = problem
    torch.manual_seed(SETTINGS["seed"])
    start = Selector.from_encoder(str(tiny_encoder_dir), max_length=16, device="cpu").state_dict()
    sel = train_selector(texts[:4], evals[:4], str(tiny_encoder_dir),
                         **{**SETTINGS, "epochs": 1, "trainable_layers": 1})
    after = sel.state_dict()
    changed = {k for k in start if k.startswith("encoder.") and not torch.equal(start[k], after[k])}
    assert changed and all(k.startswith("encoder.encoder.layer.1.") for k in changed)
    assert not torch.equal(start["head.weight"], after["head.weight"])
    with pytest.raises(ValueError):
        train_selector(texts[:4], evals[:4], str(tiny_encoder_dir), **{**SETTINGS, "trainable_layers": 3})


def test_save_and_load_round_trip(tmp_path, trained):
    folder = trained.save_pretrained(tmp_path / "rspg")
    assert (folder / "head.safetensors").is_file() and list((folder / "encoder").glob("*.safetensors"))
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
    loaded = Selector.from_pretrained(folder, device="cpu")
    texts, _ = marker_problem(4, seed=2)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(texts), trained.eval()(texts))
    assert loaded.history == trained.history and loaded.max_length == trained.max_length


# --- a frozen selector: the head alone on the encoder's cached embeddings ---------------------

FROZEN = {**SETTINGS, "trainable_layers": 0, "lr": 3e-2}


def test_frozen_selector_trains_only_the_head_on_the_encoders_embeddings(tmp_path, tiny_encoder_dir, problem):
    texts, evals = problem
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    sel = train_selector(texts, evals, str(tiny_encoder_dir), cache=cache, **FROZEN)
    assert sel.frozen and sel.history[-1] < sel.history[0]
    flat = [t for group in texts for t in group]
    assert len(cache) == len(set(flat))  # every distinct text embedded once, kept in the cache
    reference = load_encoder(str(tiny_encoder_dir), device="cpu")
    start = reference.model.state_dict()
    # encoder untouched (the pooler, absent from the folder and unused, is initialised at random)
    assert all(torch.equal(start[k], v) for k, v in sel.encoder.state_dict().items() if not k.startswith("pooler."))
    # the score is the linear layer on lampkit's own embedding of the text
    emb = reference.encode(flat, max_length=SETTINGS["max_length"])
    expected = emb @ sel.head.weight.detach().numpy()[0] + sel.head.bias.item()
    with torch.inference_mode():
        np.testing.assert_allclose(sel.score_texts(flat).numpy(), expected, rtol=1e-4, atol=1e-5)
    chosen = predict(sel, texts, cache=cache)
    np.testing.assert_array_equal(chosen, expected.reshape(len(texts), POOL).argmax(axis=1))
    np.testing.assert_array_equal(predict(sel, texts), chosen)


def test_keep_bottom_layers_is_the_full_models_hidden_state(tiny_encoder_dir):
    full = load_encoder(str(tiny_encoder_dir), device="cpu")
    cut = load_encoder(str(tiny_encoder_dir), device="cpu")
    keep_bottom_layers(cut.model, 1)
    assert len(cut.model.encoder.layer) == 1 and cut.model.config.num_hidden_layers == 1
    batch = full.tokenizer(["the doctor treated the patient", "a good book"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = full.model(**batch, output_hidden_states=True).hidden_states[1]
        torch.testing.assert_close(cut.model(**batch).last_hidden_state, expected)
    with pytest.raises(ValueError):
        keep_bottom_layers(full.model, 3)


def test_frozen_selector_saves_its_head_and_checks_its_encoder(tmp_path, tiny_encoder_dir, problem):
    texts, evals = problem
    sel = train_selector(texts[:6], evals[:6], str(tiny_encoder_dir), encoder_layers=1, **{**FROZEN, "epochs": 2})
    assert len(sel.encoder.encoder.layer) == 1 and sel.encoder_id.endswith("+layers:1")
    folder = sel.save_pretrained(tmp_path / "frozen")
    assert not (folder / "encoder").exists()
    loaded = Selector.from_pretrained(folder, device="cpu")
    assert loaded.frozen and loaded.history == sel.history and len(loaded.encoder.encoder.layer) == 1
    with torch.inference_mode():
        torch.testing.assert_close(loaded(texts[:3]), sel(texts[:3]))
    config = json.loads((folder / "selector.json").read_text())
    config["encoder_id"] = "sha256:another-encoder"
    (folder / "selector.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="encoder_id"):
        Selector.from_pretrained(folder, device="cpu")


def test_accumulated_micro_batches_give_the_full_batch_step(tiny_encoder_dir):
    texts = [[f"the movie {w}", f"the book {w}"] for w in ("was good", "was bad", "a man", "a woman", "the stock")]
    evals = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    common = dict(encoder_name_or_path=str(tiny_encoder_dir), epochs=2, lr=1e-2, batch_size=4, max_length=16,
                  seed=3, trainable_layers=0)  # a frozen encoder: no dropout draws to differ
    whole = train_selector(texts, evals, **common)
    parts = train_selector(texts, evals, micro_batch_size=1, **common)
    # the head's weights; not its bias, whose gradient is 0 up to rounding (a shift of every logit
    # leaves the softmax unchanged) and which Adam's normalisation turns into steps of +-lr
    torch.testing.assert_close(whole.head.weight, parts.head.weight, rtol=1e-4, atol=1e-6)
    clipped = train_selector(texts, evals, max_grad_norm=1e-6, warmup_ratio=0.5, schedule="linear", **common)
    assert any(not torch.equal(a, b) for a, b in zip(whole.head.parameters(), clipped.head.parameters()))
    with pytest.raises(ValueError, match="warmup_ratio"):
        train_selector(texts, evals, warmup_ratio=1.0, **common)


def test_early_stopping_keeps_the_epoch_with_the_lowest_dev_loss(tiny_encoder_dir):
    rng = np.random.default_rng(0)
    words = "the movie book was good bad a man woman stock markets fell rose doctor patient".split()
    texts = [[" ".join(rng.choice(words, 6)) for _ in range(3)] for _ in range(30)]
    evals = rng.uniform(size=(30, 3))  # noise: the dev loss stops improving early
    common = dict(encoder_name_or_path=str(tiny_encoder_dir), lr=5e-2, batch_size=4, max_length=16, seed=1,
                  trainable_layers=0, dev_share=0.2)
    stopped = train_selector(texts, evals, epochs=60, patience=3, **common)
    dev = stopped.dev_history
    assert stopped.best_epoch == int(np.argmin(dev)) + 1
    assert len(dev) == len(stopped.history) == stopped.best_epoch + 3 < 60  # stopped 3 epochs after the best
    # the weights returned are those after the best epoch: training just that long gives them
    again = train_selector(texts, evals, epochs=stopped.best_epoch, patience=None, **common)
    torch.testing.assert_close(stopped.head.weight, again.head.weight)
    assert again.dev_history == dev[:stopped.best_epoch]
    with pytest.raises(ValueError, match="dev_share"):
        train_selector(texts, evals, epochs=2, **{**common, "dev_share": 1.0})
