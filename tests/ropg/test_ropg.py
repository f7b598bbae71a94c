"""ROPG: losses against hand-computed values, the trainable retriever, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lampkit.data.layout import LampDataError
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache
from lampkit.retrievers.encoders import load_encoder
from lampkit.feedback import FeedbackStore, item_feedback
from lampkit.retrievers.dense import Dense
from lampkit.ropg.losses import kd_loss, kd_target, log_policy, rl_loss, rl_reward, sample_items
from lampkit.ropg.method import RopgConfig, best_of_curve, dev_metrics, lr_multiplier, split_dev, train_ropg
from lampkit.ropg.records import FeedbackRecord
from lampkit.ropg.records import feedback_records
from lampkit.ropg.retriever import FrozenStates, SharedLowerEncoders, TrainableDense
from lampkit.metrics.lamp import eval_signal
from lampkit.tasks import get_task

from fakes import FakeLLM, lamp2_examples


pytestmark = pytest.mark.usefixtures("one_thread")


def _softmax(xs):
    exps = [math.exp(x) for x in xs]
    return [e / sum(exps) for e in exps]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


# ----- losses ------------------------------------------------------------------------------
def test_kd_loss_is_kl_of_target_to_policy_not_the_reverse():
    evals, scores = [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]
    p_t, pi = _softmax(evals), _softmax(scores)
    forward, reverse = _kl(p_t, pi), _kl(pi, p_t)
    assert abs(forward - reverse) > 0.3  # the case tells the two directions apart
    mask = torch.ones(1, 3, dtype=torch.bool)
    loss = kd_loss(torch.tensor([scores]), mask, torch.tensor([evals]))
    assert loss.item() == pytest.approx(forward, rel=1e-6)
    # one softmax only: the target is softmax(EVAL), not softmax(softmax(EVAL))
    assert kd_target(torch.tensor([evals]), mask)[0].tolist() == pytest.approx(p_t, rel=1e-6)


def test_kd_loss_averages_rows():
    rows = [([2.0, 0.0], [0.0, 1.0]), ([0.5, 0.5], [1.0, 0.0])]
    expected = sum(_kl(_softmax(e), _softmax(s)) for s, e in rows) / 2
    loss = kd_loss(torch.tensor([r[0] for r in rows]), torch.ones(2, 2, dtype=torch.bool),
                   torch.tensor([r[1] for r in rows]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_rl_reward_subtracts_the_initial_top1_and_loss_is_policy_gradient():
    scores = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], requires_grad=True)
    evals = torch.tensor([[0.5, 1.0, 0.0], [1.0, 0.25, 0.0]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    baseline = evals[:, 0]
    sampled = torch.tensor([1, 1])
    reward = rl_reward(evals, baseline, sampled)
    assert reward.tolist() == pytest.approx([0.5, -0.75])
    log_pi = [2.0 - math.log(math.e + math.e ** 2 + math.e ** 3), 0.0 - math.log(2 + math.e)]
    expected = -(0.5 * log_pi[0] + (-0.75) * log_pi[1]) / 2
    loss = rl_loss(scores, mask, evals, baseline, sampled)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # d loss / d scores = -reward * (onehot(sampled) - pi) / B
    pi0 = _softmax([1.0, 2.0, 3.0])
    grad0 = [-0.5 * ((1.0 if j == 1 else 0.0) - pi0[j]) / 2 for j in range(3)]
    assert scores.grad[0].tolist() == pytest.approx(grad0, rel=1e-5)


def test_masked_slots_get_zero_probability_and_no_gradient_and_padding_does_not_matter():
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    evals = torch.tensor([[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0]])
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
    padded_scores = scores.clone()
    padded_scores[1, 2:] = torch.tensor([50.0, -7.0])
    padded_evals = evals.clone()
    padded_evals[1, 2:] = torch.tensor([9.0, 3.0])
    probs = log_policy(padded_scores, mask).exp()
    assert probs[1].tolist() == pytest.approx(_softmax([1.0, 0.0]) + [0.0, 0.0])
    # row 2 of the KD loss by hand, over its two real items only
    expected = (_kl(_softmax([1.0, 0.0, 0.5, 0.0]), _softmax([0.1, 0.2, 0.3, 0.4]))
                + _kl(_softmax([0.0, 1.0]), _softmax([1.0, 0.0]))) / 2
    for s, e in ((scores, evals), (padded_scores, padded_evals)):
        s = s.clone().requires_grad_(True)
        loss = kd_loss(s, mask, e)
        assert loss.item() == pytest.approx(expected, rel=1e-6)
        loss.backward()
        assert s.grad[1, 2:].tolist() == [0.0, 0.0]
        assert torch.isfinite(s.grad).all()
        s = s.detach().clone().requires_grad_(True)
        rl_loss(s, mask, e, e[:, 0], torch.tensor([3, 0])).backward()
        assert s.grad[1, 2:].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="masked"):
        rl_loss(scores, mask, evals, evals[:, 0], torch.tensor([0, 2]))


def test_sampling_never_draws_a_masked_slot_and_is_seeded():
    scores = torch.tensor([[0.0, 0.0, 100.0, 100.0]])
    mask = torch.tensor([[True, True, False, False]])
    draws = [int(sample_items(scores, mask, torch.Generator().manual_seed(s))[0]) for s in range(50)]
    assert set(draws) == {0, 1}
    a = sample_items(scores.expand(20, 4), mask.expand(20, 4), torch.Generator().manual_seed(3))
    b = sample_items(scores.expand(20, 4), mask.expand(20, 4), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_lamp3_eval_is_the_normalised_rating_score():
    task = get_task("lamp3")
    # gold 4: worst = max(|1-4|, |5-4|) = 3; prediction 2 -> (3 - 2) / 3
    values = [eval_signal(task, "4", "4"), eval_signal(task, "2", "4"), eval_signal(task, "1", "4")]
    assert values == pytest.approx([1.0, 1 / 3, 0.0])
    assert eval_signal(task, "1", "5") == pytest.approx(0.0)  # worst = 4, |5 - 1| = 4
    mask = torch.ones(1, 3, dtype=torch.bool)
    loss = kd_loss(torch.zeros(1, 3), mask, torch.tensor([values]))
    assert loss.item() == pytest.approx(_kl(_softmax([1.0, 1 / 3, 0.0]), [1 / 3] * 3), rel=1e-6)


def test_lr_schedule():
    # 20 steps, 5% warm-up = 1 step; then linear decay
    assert [lr_multiplier(s, 20, 1) for s in (0, 1, 2, 19)] == pytest.approx([1.0, 1.0, 18 / 19, 1 / 19])
    assert [lr_multiplier(s, 40, 2) for s in (0, 1, 2)] == pytest.approx([0.5, 1.0, 1.0])
    assert lr_multiplier(30, 40, 2, "constant") == 1.0
    with pytest.raises(ValueError, match="schedule"):
        RopgConfig(schedule="cosine")


# ----- feedback records --------------------------------------------------------------------
@pytest.fixture(scope="module")
def lamp2_feedback(tiny_encoder, tmp_path_factory):
    examples = lamp2_examples(n=6, profile=6, seed=1)
    store = FeedbackStore(tmp_path_factory.mktemp("ropg") / "feedback.sqlite")
    initial = Dense(tiny_encoder, name="tiny")
    frame = item_feedback("lamp2", examples, initial, FakeLLM(), store=store, depth=16, show_progress=False)
    # the fake LLM rarely hits the gold tag: spread EVAL over [0, 1] so rewards and targets vary
    frame["eval"] = [(n * 7 % 5) / 4 for n in range(len(frame))]
    return examples, frame


def test_feedback_records_use_the_dense_retriever_texts(lamp2_feedback):
    task = get_task("lamp2")
    examples, frame = lamp2_feedback
    records = feedback_records(task, examples, frame, depth=16)
    assert [r.example_id for r in records] == [ex.id for ex in examples]
    for ex, rec in zip(examples, records):
        rows = frame[frame["example_id"] == ex.id].sort_values("position")
        assert len(rec.docs) == len(ex.profile) < 16  # short profiles: fewer items, not padded
        assert rec.query == task.query(ex.input)
        assert list(rec.docs) == [task.index_text(ex.profile[j]) for j in rows["item_index"]]
        assert list(rec.eval) == rows["eval"].tolist()
    assert [len(r.docs) for r in feedback_records(task, examples, frame, depth=2)] == [2] * len(examples)


def test_feedback_records_reject_a_frame_of_other_items(lamp2_feedback):
    examples, frame = lamp2_feedback
    bad = frame.copy()
    bad.loc[bad.index[1], "item_id"] = "nope"
    with pytest.raises(LampDataError, match=f"record {examples[0].id}, field 'item_id'"):
        feedback_records("lamp2", examples, bad)
    with pytest.raises(LampDataError, match="field 'position'"):
        feedback_records("lamp2", examples, frame.drop(index=frame.index[0]))


# ----- the trainable retriever -------------------------------------------------------------
TEXTS = ["the doctor treated the sick man", "a movie", "love", "stock markets fell sharply on the day"]


@pytest.mark.parametrize("train_layers", [None, 1, 2])
def test_trainable_dense_embeds_like_the_encoder(tiny_encoder, train_layers):
    retriever = TrainableDense.from_encoder(tiny_encoder, train_layers=train_layers, device="cpu").eval()
    with torch.no_grad():
        ours = retriever.embed(TEXTS).numpy()
    np.testing.assert_allclose(ours, tiny_encoder.encode(TEXTS), rtol=1e-5, atol=1e-6)


def test_only_the_top_layers_get_gradients(tiny_encoder, lamp2_feedback):
    examples, frame = lamp2_feedback
    records = feedback_records("lamp2", examples, frame)
    retriever = TrainableDense.from_encoder(tiny_encoder, train_layers=1, device="cpu")
    scores = retriever.score(records[:3], 16)
    evals = torch.tensor([list(r.eval) + [0.0] * (16 - len(r.eval)) for r in records[:3]])
    mask = torch.tensor([[j < len(r.eval) for j in range(16)] for r in records[:3]])
    # a target that differs from the policy, so the loss has a gradient
    kd_loss(scores, mask, evals + torch.arange(16.0)).backward()
    model = retriever.model
    for name, p in model.embeddings.named_parameters():
        assert p.grad is None, name
    for name, p in model.encoder.layer[0].named_parameters():
        assert p.grad is None, name
    top = dict(model.encoder.layer[1].named_parameters())
    assert all(p.grad is not None for p in top.values())
    assert any(float(p.grad.abs().sum()) > 0 for p in top.values())
    assert all(p.grad is None for p in tiny_encoder.model.parameters())


def test_training_all_layers_reaches_the_embeddings(tiny_encoder, lamp2_feedback):
    examples, frame = lamp2_feedback
    records = feedback_records("lamp2", examples, frame)
    retriever = TrainableDense.from_encoder(tiny_encoder, device="cpu")
    scores = retriever.score(records[:2], 16)
    mask = torch.tensor([[j < len(r.eval) for j in range(16)] for r in records[:2]])
    kd_loss(scores, mask, torch.arange(16.0).expand(2, 16)).backward()
    assert float(retriever.model.embeddings.word_embeddings.weight.grad.abs().sum()) > 0


# ----- end to end --------------------------------------------------------------------------
def _config(**kw) -> RopgConfig:
    base = dict(epochs=1, batch_size=4, micro_batch_size=2, lr=1e-3, max_length=64, device="cpu")
    return RopgConfig(**{**base, **kw})


def test_train_ropg_kd_top_layer_saves_a_loadable_retriever(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    out = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), _config(train_layers=1),
                     tmp_path / "ropg-kd", show_progress=False)
    assert (out / "model.safetensors").is_file()
    record = json.loads((out / "ropg.json").read_text())
    assert record["method"] == "kd" and record["config"]["train_layers"] == 1
    assert [e["step"] for e in record["log"]] == [0, 1]  # 6 inputs, batches of 4: 2 steps
    assert all(math.isfinite(e["loss"]) and e["loss"] >= 0 for e in record["log"])
    before = load_encoder(str(tiny_encoder_dir), device="cpu").model.state_dict()
    after = load_file(out / "model.safetensors")
    for name, tensor in after.items():
        if name.startswith("pooler"):
            continue
        same = torch.equal(tensor, before[name])
        assert same == (not name.startswith("encoder.layer.1.")), name
    encoder = load_encoder(str(out), device="cpu")
    rankings = Dense(CachedEncoder(encoder, EmbeddingCache()), name="ropg-kd").rank_many(get_task("lamp2"),
                                                                                        examples)
    assert [sorted(r.order.tolist()) for r in rankings] == [list(range(len(ex.profile))) for ex in examples]


def test_train_ropg_rl_same_seed_same_bytes(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    outs = [train_ropg("rl", "lamp2", examples, frame, str(tiny_encoder_dir), _config(seed=s),
                       tmp_path / f"run{n}", show_progress=False) for n, s in enumerate((7, 7, 8))]
    first, second, other = ((o / "model.safetensors").read_bytes() for o in outs)
    assert first == second
    assert first != other
    log = json.loads((outs[0] / "ropg.json").read_text())["log"]
    assert all("reward" in e for e in log)
    assert log == json.loads((outs[1] / "ropg.json").read_text())["log"]
    initial = load_encoder(str(tiny_encoder_dir), device="cpu").model.state_dict()
    trained = load_file(outs[0] / "model.safetensors")
    assert not torch.equal(trained["embeddings.word_embeddings.weight"], initial["embeddings.word_embeddings.weight"])


def test_early_stopping_keeps_the_best_dev_epoch(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    common = dict(train_layers=1, lr=5e-2, schedule="constant", warmup_ratio=0.0, dev_share=0.34, seed=3)
    out = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), _config(epochs=30, patience=2, **common),
                     tmp_path / "stopped", show_progress=False)
    record = json.loads((out / "ropg.json").read_text())
    curve, best = record["dev_curve"], record["best_epoch"]
    values = [c["dev_expected_eval"] for c in curve]
    assert [c["epoch"] for c in curve] == list(range(len(curve)))  # epoch 0: before training
    assert best == int(np.argmax(values))  # the first of the highest
    assert len(curve) == min(best + 2, 30) + 1  # stopped 2 epochs after the best (or ran out of epochs)
    assert all(c["dev_initial_eval"] == curve[0]["dev_initial_eval"] for c in curve)
    assert record["trained_examples"] == 6 and {e["epoch"] for e in record["log"]} == set(range(len(curve) - 1))
    kept = load_file(out / "model.safetensors")
    if best == 0:
        reference = load_encoder(str(tiny_encoder_dir), device="cpu").model.state_dict()
    else:  # training just that long (constant learning rate: the same steps) gives the kept weights
        again = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir),
                           _config(epochs=best, patience=None, **common), tmp_path / "again", show_progress=False)
        reference = load_file(again / "model.safetensors")
    for name, tensor in kept.items():
        if not name.startswith("pooler"):
            torch.testing.assert_close(tensor, reference[name], rtol=0, atol=0)


class _Scores:
    """A retriever stand-in for dev_metrics: fixed scores per record (by query)."""

    device = torch.device("cpu")

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = scores

    def eval(self) -> None:
        pass

    def score(self, records, depth):
        return torch.tensor([self.scores[r.query] + [0.0] * (depth - len(self.scores[r.query])) for r in records])


def test_dev_metrics_eval_at_k_ranks_by_score_and_counts_short_profiles():
    records = [FeedbackRecord("a", "qa", ("d1", "d2", "d3", "d4", "d5"), (0.0, 1.0, 0.0, 0.5, 1.0)),
               FeedbackRecord("b", "qb", ("e1", "e2"), (1.0, 0.0))]
    # a: the retriever ranks d5, d4, d2, d1 first (EVAL 1, .5, 1, 0); b has two items: e2, e1
    retriever = _Scores({"qa": [0.1, 2.0, -1.0, 3.0, 4.0], "qb": [0.0, 5.0]})
    got = dev_metrics(retriever, records, RopgConfig(depth=5, top_k=4, micro_batch_size=1))
    assert got["dev_topk_eval"] == pytest.approx(((1 + 0.5 + 1 + 0) / 4 + (0 + 1) / 2) / 2)
    assert got["dev_initial_topk_eval"] == pytest.approx(((0 + 1 + 0 + 0.5) / 4 + (1 + 0) / 2) / 2)
    assert got["dev_top1_eval"] == pytest.approx((1.0 + 0.0) / 2) and got["dev_initial_eval"] == pytest.approx(0.5)
    # a softer policy with the same order: EVAL@k stays, E_pi[EVAL] moves
    soft = _Scores({q: [v / 10 for v in s] for q, s in retriever.scores.items()})
    again = dev_metrics(soft, records, RopgConfig(depth=5, top_k=4))
    assert again["dev_topk_eval"] == got["dev_topk_eval"] and again["dev_expected_eval"] != got["dev_expected_eval"]


def test_the_criterion_picks_the_epoch_kept(tiny_encoder_dir, lamp2_feedback, tmp_path):
    curve = [{"epoch": 0, "dev_expected_eval": 0.5, "dev_topk_eval": 0.2},
             {"epoch": 1, "dev_expected_eval": 0.4, "dev_topk_eval": 0.3},
             {"epoch": 2, "dev_expected_eval": 0.45, "dev_topk_eval": 0.3}]
    assert best_of_curve(curve)["epoch"] == 0 and best_of_curve(curve, "top_k")["epoch"] == 1  # ties: the earliest
    with pytest.raises(ValueError, match="criterion must be one of"):
        RopgConfig(criterion="ndcg")
    examples, frame = lamp2_feedback
    common = dict(train_layers=1, lr=5e-2, schedule="constant", warmup_ratio=0.0, dev_share=0.34, seed=3, epochs=6)
    out = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), _config(criterion="top_k", **common),
                     tmp_path / "topk", show_progress=False)
    record = json.loads((out / "ropg.json").read_text())
    values = [c["dev_topk_eval"] for c in record["dev_curve"]]
    assert record["best_epoch"] == int(np.argmax(values)) and record["config"]["criterion"] == "top_k"


def test_split_dev_is_seeded_and_keeps_the_order():
    records = list(range(10))
    train, dev = split_dev(records, 0.3, seed=1)
    assert len(dev) == 3 and sorted(train + dev) == records and train == sorted(train) and dev == sorted(dev)
    assert (train, dev) == split_dev(records, 0.3, seed=1) and split_dev(records, 0.0, 1) == (records, [])
    with pytest.raises(ValueError, match="no training input"):
        split_dev(records[:1], 0.5, seed=1)


def test_train_ropg_rejects_an_unknown_method(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    with pytest.raises(ValueError, match="method"):
        train_ropg("ppo", "lamp2", examples, frame, str(tiny_encoder_dir), _config(), tmp_path)


# ----- sharing the frozen part -------------------------------------------------------------
def test_shared_frozen_states_change_no_result(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    config = _config(train_layers=1, seed=3)
    alone = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), config, tmp_path / "alone",
                       show_progress=False)
    frozen = FrozenStates()
    train_ropg("rl", "lamp2", examples, frame, str(tiny_encoder_dir), config, tmp_path / "rl", show_progress=False,
               frozen=frozen)
    n_states = len(frozen.states)
    assert n_states > 0 and frozen.key[1:3] == (1, config.max_length)
    shared = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), config, tmp_path / "kd",
                        show_progress=False, frozen=frozen)
    assert len(frozen.states) == n_states  # the second method computed nothing new
    assert (shared / "model.safetensors").read_bytes() == (alone / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="frozen states"):
        TrainableDense.from_encoder(str(tiny_encoder_dir), train_layers=2, max_length=config.max_length,
                                    device="cpu", frozen=frozen)


def test_shared_lower_encoders_embed_like_each_checkpoint(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    outs = [train_ropg(m, "lamp2", examples, frame, str(tiny_encoder_dir), _config(train_layers=1, lr=1e-2),
                       tmp_path / m, show_progress=False) for m in ("rl", "kd")]
    encoders = [load_encoder(str(o), device="cpu") for o in outs]
    texts = TEXTS + [TEXTS[0]]
    plain = [enc.encode(texts) for enc in encoders]
    assert not np.allclose(plain[0], plain[1])  # two different checkpoints
    cache = EmbeddingCache()
    family = SharedLowerEncoders(encoders, split=1, cache=cache)
    for i in (0, 1):
        np.testing.assert_allclose(family.member(i).encode(texts), plain[i], rtol=1e-5, atol=1e-6)
    # encoding through member 0 stored member 1's embeddings, found by a cached encoder over member 1
    cache = EmbeddingCache()
    family = SharedLowerEncoders(encoders, split=1, cache=cache)
    CachedEncoder(family.member(0), cache).encode(texts)
    second = CachedEncoder(family.member(1), cache)
    np.testing.assert_allclose(second.encode(texts), plain[1], rtol=1e-5, atol=1e-6)
    assert second.n_encoded == 0
    # all layers trained: the lower layer differs, nothing to share
    full = train_ropg("kd", "lamp2", examples, frame, str(tiny_encoder_dir), _config(lr=1e-2), tmp_path / "full",
                      show_progress=False)
    with pytest.raises(ValueError, match="frozen part"):
        SharedLowerEncoders([encoders[0], load_encoder(str(full), device="cpu")], split=1, cache=EmbeddingCache())


def test_initial_encoder_joins_the_shared_pass_in_bfloat16(tiny_encoder_dir, lamp2_feedback, tmp_path):
    examples, frame = lamp2_feedback
    config = _config(train_layers=1, lr=1e-2, dtype="bfloat16")
    outs = [train_ropg(m, "lamp2", examples, frame, str(tiny_encoder_dir), config, tmp_path / m, show_progress=False)
            for m in ("rl", "kd")]
    record = json.loads((outs[0] / "ropg.json").read_text())
    assert record["initial_encoder"].endswith("+autocast:bfloat16") and record["config"]["dtype"] == "bfloat16"
    encoders = [load_encoder(str(f), device="cpu", dtype="bfloat16") for f in (tiny_encoder_dir, *outs)]
    texts = TEXTS + [TEXTS[0]]
    plain = [enc.encode(texts) for enc in encoders]
    cache = EmbeddingCache()
    family = SharedLowerEncoders(encoders, split=1, cache=cache)
    dense = CachedEncoder(family.member(0), cache)
    got = dense.encode(texts)
    np.testing.assert_allclose(got, plain[0], rtol=1e-2, atol=1e-2)  # bfloat16 rounding, batch shapes
    for i in (1, 2):  # the initial encoder's pass stored both checkpoints' embeddings
        member = CachedEncoder(family.member(i), cache)
        np.testing.assert_allclose(member.encode(texts), plain[i], rtol=1e-2, atol=1e-2)
        assert member.n_encoded == 0
    with pytest.raises(ValueError, match="cannot share a pass"):
        SharedLowerEncoders([encoders[0], load_encoder(str(outs[0]), device="cpu", dtype="float32")], split=1,
                            cache=EmbeddingCache())
    # a member whose embeddings of the texts are cached already gets no top-layer pass
    new = ["a text the family never saw", "another unseen text"]
    CachedEncoder(encoders[0], cache).encode(new)  # the initial encoder on its own
    members = []
    real = family.embed_all
    family.embed_all = lambda *a: members.append(list(a[4])) or real(*a)
    CachedEncoder(family.member(1), cache).encode(new)
    assert members == [[1, 2]]


def test_kd_loss_is_the_kl_divergence_from_kd_target():
    """KL(p_t || pi) over the unmasked slots, written out: p_t = softmax(1, 0), pi = softmax(2, 1)."""
    import math

    scores = torch.tensor([[2.0, 1.0, 5.0]])
    mask = torch.tensor([[True, True, False]])
    evals = torch.tensor([[1.0, 0.0, 9.0]])
    p = [math.e / (math.e + 1), 1 / (math.e + 1)]
    pi = [math.e ** 2 / (math.e ** 2 + math.e), math.e / (math.e ** 2 + math.e)]
    expected = sum(pt * (math.log(pt) - math.log(q)) for pt, q in zip(p, pi))
    assert kd_target(evals, mask)[0].tolist() == pytest.approx([*p, 0.0], rel=1e-6)
    assert kd_loss(scores, mask, evals).item() == pytest.approx(expected, rel=1e-5)


def test_kd_loss_takes_its_target_from_kd_target(monkeypatch):
    from lampkit.ropg import losses

    scores, mask, evals = torch.tensor([[0.0, 1.0]]), torch.tensor([[True, True]]), torch.tensor([[1.0, 0.0]])
    before = losses.kd_loss(scores, mask, evals).item()
    monkeypatch.setattr(losses, "kd_target", lambda e, m: torch.zeros_like(e))
    assert before > 0 and losses.kd_loss(scores, mask, evals).item() == 0.0
