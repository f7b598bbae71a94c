"""RSPG pieces: oracle bounds, success rate, the KL target and loss, and a tiny trained selector."""

import math

import numpy as np
import pytest
import torch

from lampkit.selection import (Selector, kl_loss, oracle_bounds, predict, success_rate, target_distribution,
                               train_selector)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors train fastest on one thread (and far faster on a busy machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
