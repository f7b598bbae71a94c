"""The ROPG experiment: settings, cached checkpoints as pool retrievers, determinism, tables and the CLI.

Runs on a hand-made LaMP-2 folder (fakes.lamp2_examples, golds set to a tag of the profile), the
tiny random BERT as the initial encoder and the fake LLM (it answers with the tag of the first
entry of its prompt, so EVAL of an item is 1 exactly when its tag is the gold).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lampkit.ropg import stage as ropg_run
from lampkit.data.layout import write_split
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache
from lampkit.retrievers.encoders import load_encoder
from lampkit.config import ConfigError
from lampkit.pipeline import Settings, context, load_examples
from lampkit.retrievers import Dense
from lampkit.ropg.method import RopgConfig
from lampkit.ropg.retriever import SharedLowerEncoders
from lampkit.tasks import get_task
from lampkit.cli import stages as stages_cli

from fakes import FakeLLM, lamp2_examples

pytestmark = pytest.mark.usefixtures("one_thread")


TRAINING = {"train_inputs": 20, "epochs": 2, "batch_size": 8, "micro_batch_size": 4, "lr": 1e-2, "max_length": 64,
            "device": "cpu"}


def _with_gold_in_profile(examples, seed):
    rng = random.Random(seed)
    for ex in examples:
        ex.output = rng.choice(ex.profile)["tag"]
    return examples


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lamp")
    for n, (split, size) in enumerate((("train", 24), ("dev", 12), ("test", 6))):
        examples = _with_gold_in_profile(lamp2_examples(n=size, profile=20, seed=n), seed=n)
        for ex in examples:
            ex.id = f"{split}{ex.id}"
        write_split(root, "lamp2", split, examples)
    return root


@pytest.fixture
def settings(data_dir, tiny_encoder_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    return Settings(task="lamp2", data_dir=str(data_dir), encoder=str(tiny_encoder_dir),
                    store=str(tmp_path / "feedback.sqlite"), show_progress=False)


@pytest.fixture
def ctx(settings):
    """The run context with the fake LLM injected."""
    return context(settings, llm_for=FakeLLM())


@pytest.fixture
def setup():
    return ropg_run.RopgSetup.preset("book", **TRAINING)


# ----- settings ------------------------------------------------------------------------------
def test_setup_presets_and_overrides():
    book = ropg_run.RopgSetup.preset("book")
    assert (book.train_inputs, book.config.epochs, book.config.train_layers, book.config.lr) == (100, 12, 1, 1e-4)
    assert (book.config.dev_share, book.config.patience, book.config.batch_size) == (0.2, None, 4)
    assert (book.config.criterion, book.config.top_k) == ("top_k", 4)
    # 240 optimizer steps on the 80 inputs that train at the default scale: ten times the 21 of before
    assert book.config.epochs * math.ceil(80 / book.config.batch_size) >= 10 * 21
    assert ropg_run.RopgSetup.preset("paper") == ropg_run.RopgSetup()  # the dataclass defaults are the paper's
    setup = ropg_run.RopgSetup.from_params({"ropg_epochs": 7, "ropg_train_layers": None, "ropg_train_inputs": None})
    assert setup.config.epochs == 7 and setup.config.train_layers is None and setup.train_inputs is None
    assert setup.config.lr == book.config.lr  # the rest from the book preset
    with pytest.raises(ConfigError, match="'ropg_epoch'.*did you mean 'ropg_epochs'"):
        ropg_run.RopgSetup.from_params({"ropg_epoch": 3})
    with pytest.raises(ConfigError, match="train_inputs"):
        ropg_run.RopgSetup.from_params({"ropg_train_inputs": 0})
    with pytest.raises(ConfigError, match="'ropg_lr' must be float"):
        ropg_run.RopgSetup.from_params({"ropg_lr": "fast"})
    assert RopgConfig().lr == 1e-5 and RopgConfig().epochs == 10 and RopgConfig().batch_size == 64  # the paper's
    with pytest.raises(ValueError, match="method"):
        ropg_run.retriever_name("ppo")


# ----- checkpoints ---------------------------------------------------------------------------
def test_checkpoints_train_once_and_load_as_pool_retrievers(settings, ctx, setup, monkeypatch):
    task = get_task("lamp2")
    retrievers = ropg_run.ropg_retrievers(ctx, "lamp2", setup)
    assert [r.name for r in retrievers] == ["ropg-rl", "ropg-kd"]
    initial = ropg_run.initial_retriever(settings)
    ids = {r.config["encoder"] for r in [initial, *retrievers]}
    assert len(ids) == 3  # each checkpoint's content has its own identity, so its own feedback rows
    # both trained the top layer of one encoder: they share the lower layers' pass
    assert all(isinstance(r.encoder.encoder.family, SharedLowerEncoders) for r in retrievers)

    folders = ropg_run.checkpoints(ctx, "lamp2", setup)
    record = json.loads((folders["kd"] / "ropg.json").read_text())
    assert record["method"] == "kd" and record["trained_examples"] == TRAINING["train_inputs"]
    # 20 inputs, 4 of them held out as the dev set: 16 in batches of 8, 2 steps an epoch
    assert record["config"]["epochs"] == 2 and len(record["log"]) == 2 * 2
    assert [c["epoch"] for c in record["dev_curve"]] == [0, 1, 2] and record["best_epoch"] in (0, 1, 2)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(ropg_run, "train_ropg", no_training)
    again = ropg_run.checkpoints(ctx, "lamp2", setup)
    assert again == folders

    # ranked like a Dense retriever over the checkpoint loaded as a plain encoder
    examples = load_examples(settings, task, "dev")
    for retriever, folder in zip(retrievers, folders.values()):
        plain = Dense(CachedEncoder(load_encoder(str(folder), device="cpu"), EmbeddingCache()))
        for ours, theirs in zip(retriever.rank_many(task, examples), plain.rank_many(task, examples)):
            np.testing.assert_allclose(ours.scores, theirs.scores, rtol=1e-4, atol=1e-5)

    # with the initial retriever: dense first, in the same shared pass, ranking like the baseline
    with_initial = ropg_run.ropg_retrievers(ctx, "lamp2", setup, with_initial=True)
    assert [r.name for r in with_initial] == ["dense", "ropg-rl", "ropg-kd"]
    assert [r.config for r in with_initial] == [initial.config, *(r.config for r in retrievers)]
    assert len({id(r.encoder.encoder.family) for r in with_initial}) == 1
    for ours, theirs in zip(with_initial[0].rank_many(task, examples), initial.rank_many(task, examples)):
        np.testing.assert_allclose(ours.scores, theirs.scores, rtol=1e-4, atol=1e-5)

    # other settings, another checkpoint
    other = setup.with_(seed=1)
    monkeypatch.undo()
    assert ropg_run.checkpoints(ctx, "lamp2", other, ("kd",))["kd"] != folders["kd"]


def test_same_seed_same_checkpoint_and_table(settings, setup, tmp_path, monkeypatch):
    outs = []
    for run, seed in enumerate((0, 0, 5)):
        monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / f"cache{run}"))
        s = settings.with_(store=str(tmp_path / f"store{run}.sqlite"))
        results = ropg_run.run_ropg(context(s, llm_for=FakeLLM()), setup.with_(seed=seed))
        weights = {n: (f / "model.safetensors").read_bytes() for n, f in results.checkpoints["lamp2"].items()}
        outs.append((weights, results.comparison("dev"), results.curves()))
    (w0, table0, curves0), (w1, table1, curves1), (w2, _, _) = outs
    assert w0 == w1
    pd.testing.assert_frame_equal(table0, table1)
    pd.testing.assert_frame_equal(curves0, curves1)
    assert w0["ropg-rl"] != w2["ropg-rl"] and w0["ropg-kd"] != w2["ropg-kd"]
    assert list(table0.index) == ["lamp2"] and {"dense", "ropg-rl", "ropg-kd"} <= set(table0.columns)


# ----- tables --------------------------------------------------------------------------------
def test_feedback_signal_by_hand():
    frame = pd.DataFrame({"example_id": ["a", "a", "a", "b", "b"], "position": [0, 1, 2, 0, 1],
                          "eval": [0.0, 1.0, 0.5, 0.25, 0.25]})
    got = ropg_run.feedback_signal(frame)
    assert got == pytest.approx({"inputs": 2, "items": 2.5, "top1": 0.125, "mean": (0.5 + 0.25) / 2,
                                 "best": (1.0 + 0.25) / 2, "differing_share": 0.5})


def _pool_frame(rows):
    return pd.DataFrame(rows, columns=["example_id", "retriever", "items", "output", "abs_error", "correct"])


def test_comparison_gain_follows_the_metric_direction_and_summary_shows_no_gain():
    # lamp3 (MAE, lower is better): ropg-rl lowers the error -> positive gain; lamp2: neither gains
    lamp3 = _pool_frame([("x", "dense", ["1", "2"], "3", 2.0, 0), ("x", "ropg-rl", ["1", "3"], "4", 1.0, 0),
                         ("x", "ropg-kd", ["2", "1"], "3", 2.0, 0),
                         ("y", "dense", ["4"], "5", 0.0, 0), ("y", "ropg-rl", ["4"], "5", 0.0, 0),
                         ("y", "ropg-kd", ["4"], "5", 0.0, 0)])
    lamp2 = _pool_frame([("z", "dense", ["1"], "a", 0, 1), ("z", "ropg-rl", ["2"], "b", 0, 0),
                         ("z", "ropg-kd", ["1"], "a", 0, 1)])
    metrics = {"lamp3": {"dev": pd.DataFrame({"mae": [1.0, 0.5, 1.0], "rmse": [1.4, 0.7, 1.4]},
                                             index=["dense", "ropg-rl", "ropg-kd"])},
               "lamp2": {"dev": pd.DataFrame({"accuracy": [1.0, 0.0, 1.0], "f1": [1.0, 0.0, 1.0]},
                                             index=["dense", "ropg-rl", "ropg-kd"])}}
    feedback = {"lamp3": {"dev": lamp3}, "lamp2": {"dev": lamp2}}
    table = ropg_run.comparison_table(feedback, metrics, "dev", ["ropg-rl", "ropg-kd"])
    assert table.loc["lamp3", "ropg-rl gain"] == pytest.approx(0.5)
    assert table.loc["lamp3", "ropg-kd gain"] == pytest.approx(0.0)
    assert table.loc["lamp3", "ropg-rl changed"] == pytest.approx(0.5)  # x changed, y did not
    assert table.loc["lamp3", "ropg-kd changed"] == pytest.approx(0.0)  # same items, other order
    assert table.loc["lamp2", "ropg-rl gain"] == pytest.approx(-1.0)
    # the paired t-test on the absolute errors (2, 0) against (1, 0), as scipy computes it
    assert table.loc["lamp3", "ropg-rl p"] == pytest.approx(stats.ttest_rel([2.0, 0.0], [1.0, 0.0]).pvalue)
    assert table.loc["lamp3", "ropg-kd p"] == 1.0  # identical errors
    assert list(table["improved by"]) == ["ropg-rl", "none"]  # not significant: no star
    text = ropg_run.improvement_summary(table, ["ropg-rl", "ropg-kd"])
    assert "**1 of 2**" in text and "ropg-rl on 1, 0 of them significantly, ropg-kd on 0" in text
    assert "**lamp2** (accuracy): no gain" in text and "lamp3** (" not in text
    starred = ropg_run.comparison_table(feedback, metrics, "dev", ["ropg-rl", "ropg-kd"], alpha=0.6)
    assert list(starred["improved by"]) == ["ropg-rl*", "none"]
    # beside the paper's Table 3: LaMP-3 MAE Contriever 0.299, ROPG-RL 0.286; LaMP-2 accuracy 0.396, 0.391
    beside = ropg_run.gains_beside_paper(table, ["ropg-rl"])
    assert beside.loc["lamp3", ("ropg-rl gain", "this build")] == pytest.approx(0.5)
    assert beside.loc["lamp3", ("ropg-rl gain", "paper")] == pytest.approx(0.013)
    assert beside.loc["lamp2", ("ropg-rl gain", "paper")] == pytest.approx(-0.005)


def test_changed_example_is_the_largest_gain_among_changed_inputs():
    df = _pool_frame([("a", "dense", ["1"], "", 1.0, 0), ("a", "ropg-kd", ["1"], "", 0.0, 0),  # same items
                      ("b", "dense", ["1"], "", 2.0, 0), ("b", "ropg-kd", ["2"], "", 1.0, 0),
                      ("c", "dense", ["1"], "", 3.0, 0), ("c", "ropg-kd", ["3"], "", 2.0, 0)])
    assert ropg_run.changed_example(df, "lamp3", "ropg-kd") == ("b", 1.0)  # first of the tied gains
    same = df[df["example_id"] == "a"]
    assert ropg_run.changed_example(same, "lamp3", "ropg-kd") is None
    example = lamp2_examples(n=1, profile=4, seed=0)[0]
    ids = [str(item["id"]) for item in example.profile]
    df2 = pd.DataFrame({"example_id": [example.id] * 2, "retriever": ["dense", "ropg-kd"],
                        "items": [[ids[0]], [ids[1]]], "output": ["comedy", "drama"], "correct": [1.0, 0.0]})
    text = ropg_run.changed_example_markdown(df2, example, "lamp2", ["dense", "ropg-kd"])
    assert f"`{ids[1]}`: {get_task('lamp2').index_text(example.profile[1])}" in text
    assert "**ropg-kd** (accuracy 0.000) answered *drama*" in text


# ----- command line --------------------------------------------------------------------------
def test_cli_trains_and_prints_the_comparison(settings, data_dir, tiny_encoder_dir, monkeypatch, capsys, tmp_path):
    import lampkit.pipeline

    monkeypatch.setattr(lampkit.pipeline, "get_llm", lambda *args, **kwargs: FakeLLM())
    parser = argparse.ArgumentParser()
    stages_cli.add_cli(parser.add_subparsers())
    args = parser.parse_args(["ropg", "--task", "lamp2", "--methods", "kd", "--data-dir", str(data_dir),
                              "--encoder", str(tiny_encoder_dir), "--store", settings.store,
                              "--ropg-train-inputs", "12", "--ropg-epochs", "1", "--ropg-lr", "0.01",
                              "--ropg-batch-size", "4", "--ropg-train-layers", "all", "--ropg-device", "cpu",
                              "--save", str(tmp_path / "saved")])
    assert args.ropg_train_layers is None
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "ropg-kd gain" in out and "ropg-rl" not in out
    folder = out.strip().splitlines()[-1].split(": ", 1)[1]
    record = json.loads((Path(folder) / "ropg.json").read_text())
    assert record["config"]["train_layers"] is None and record["trained_examples"] == 12
    # --save: the printed tables as CSV, with the command and settings that made them
    saved = json.loads((tmp_path / "saved" / "provenance.json").read_text())
    assert set(saved["tables"]) == {"signal", "curves", "dev_curves", "training", "comparison_dev", "metrics_dev"}
    assert saved["settings"]["RopgSetup"]["train_inputs"] == 12 and saved["settings"]["preset"] == "book"
    assert "lampkit.ropg.method" in saved["fingerprint"]["modules"]
    assert "ropg-kd gain" in (tmp_path / "saved" / "comparison_dev.csv").read_text()


# ----- the ROPG setup reaches the selection pool and Table 3 -----------------------------------
def test_a_ropg_setting_changes_chapter_04s_pool_and_table3s_ropg_columns(ctx, setup, tiny_encoder_dir):
    from lampkit.analysis.table3 import collect_predictions
    from lampkit.rspg.stage import POOL, RspgConfig, run_selection, selection_pool

    config = RspgConfig(encoder=str(tiny_encoder_dir), max_length=32, epochs=1, lr=1e-2)
    runs = {}
    for name, s in (("given", setup), ("other seed", setup.with_(seed=5))):
        pool = selection_pool(ctx, "lamp2", s)
        assert [r.name for r in pool] == list(POOL)
        sel = run_selection(ctx, "lamp2", pool, config, "test", modes=("pre",))
        runs[name] = ({r.name: r.config for r in pool}, sel)
    (configs_a, sel_a), (configs_b, sel_b) = runs["given"], runs["other seed"]
    for name in ("none", "recency", "bm25", "dense"):
        assert configs_a[name] == configs_b[name]
    for name in ("ropg-rl", "ropg-kd"):  # other weights, so other retrievers
        assert configs_a[name] != configs_b[name]
    items = {k: sel.feedback.pivot(index="example_id", columns="retriever", values="items")
             for k, sel in (("a", sel_a), ("b", sel_b))}
    assert list(items["a"]["bm25"]) == list(items["b"]["bm25"])
    assert any(list(x) != list(y) for x, y in zip(items["a"]["ropg-kd"], items["b"]["ropg-kd"])) or \
        any(list(x) != list(y) for x, y in zip(items["a"]["ropg-rl"], items["b"]["ropg-rl"]))
    # Table 3's ROPG columns are the outputs of the pool's ROPG retrievers
    examples = {"lamp2": sel_a.examples}
    baseline_feedback = {"lamp2": sel_a.feedback[sel_a.feedback["retriever"].isin(["none", "bm25", "recency", "dense"])]}
    for sel in (sel_a, sel_b):
        predictions, golds = collect_predictions(baseline_feedback, {"lamp2": sel}, examples)
        outputs = sel.feedback.pivot(index="example_id", columns="retriever", values="output")
        assert predictions["lamp2"]["ropg-kd"] == list(outputs["ropg-kd"].reindex([str(e.id) for e in sel.examples]))


def test_table3s_rrf_fuses_the_whole_pool_but_no_personalization(ctx, setup, tiny_encoder_dir):
    from lampkit.analysis.table3 import collect_predictions
    from lampkit.pipeline import baseline_pool
    from lampkit.retrievers import RRF
    from lampkit.rspg.stage import RspgConfig, rrf_over_pool, run_selection, selection_pool
    from lampkit.tasks import get_task

    fused = rrf_over_pool(ctx, "lamp2", setup, "test")
    pool = selection_pool(ctx, "lamp2", setup)
    examples = ctx.examples("lamp2", "test")
    ids = [str(e.id) for e in examples]
    # the same items as fusing the pool's retrievers but "none" by hand, for every input
    members = [r for r in pool if r.name != "none"]
    assert [r.name for r in members] == ["recency", "bm25", "dense", "ropg-rl", "ropg-kd"]
    items = fused.set_index("example_id").loc[ids, "items"]
    expected = [[str(ex.profile[i]["id"]) for i in r.order[:ctx.settings.k]]
                for ex, r in zip(examples, RRF(members).rank_many(get_task("lamp2"), examples))]
    assert [list(x) for x in items] == expected
    # chapter 02's RRF (three members) is another retriever with another cache key
    three = baseline_pool(ctx.encoder)[-1]
    assert three.name == "rrf" and three.config != RRF(members).config
    # collect_predictions takes the fused outputs for Table 3's rrf column
    sel = run_selection(ctx, "lamp2", pool, RspgConfig(encoder=str(tiny_encoder_dir), max_length=32, epochs=1),
                        "test", modes=("pre",))
    baseline_feedback = {"lamp2": sel.feedback[sel.feedback["retriever"].isin(["none", "bm25", "recency", "dense"])]}
    predictions, _ = collect_predictions(baseline_feedback, {"lamp2": sel}, {"lamp2": examples},
                                         rrf_feedback={"lamp2": fused})
    assert predictions["lamp2"]["rrf"] == list(fused.set_index("example_id").loc[ids, "output"])


def test_claims_command_prints_the_verdicts_and_writes_json(settings, data_dir, tiny_encoder_dir, monkeypatch,
                                                             capsys, tmp_path):
    import lampkit.pipeline
    from lampkit.rspg.claims import CLAIMS

    monkeypatch.setattr(lampkit.pipeline, "get_llm", lambda *args, **kwargs: FakeLLM())
    parser = argparse.ArgumentParser()
    stages_cli.add_cli(parser.add_subparsers())
    args = parser.parse_args(["claims", "--task", "lamp2", "--data-dir", str(data_dir), "--eval-split", "dev",
                              "--encoder", str(tiny_encoder_dir), "--store", settings.store,
                              "--ropg-train-inputs", "12", "--ropg-epochs", "1", "--ropg-batch-size", "4",
                              "--ropg-device", "cpu", "--rspg-encoder", str(tiny_encoder_dir),
                              "--rspg-max-length", "32", "--rspg-epochs", "1",
                              "--json", str(tmp_path / "claims.json")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "What reproduces (dev split" in out and "Claims that hold, per task" in out
    records = json.loads((tmp_path / "claims.json").read_text())
    assert [(r["task"], r["claim"]) for r in records] == [("lamp2", c) for c in CLAIMS]
    assert all(isinstance(r["holds"], bool) for r in records)
    assert records[1]["paper_holds"] is False  # the paper's Table 3: neither ROPG beats Contriever on LaMP-2 accuracy
