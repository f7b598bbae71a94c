"""Chapters 04 (selection) and 05 (oracle and ablation) run as typed with papermill (tiny scale, local models)."""

import argparse
import json
import shutil

import pytest

from lampkit.cli import stages as rspg_cli
from notebooks import outputs_text, run_chapter


@pytest.fixture(scope="module")
def one_token_llm(quick_llm, tmp_path_factory):
    """The quick LLM, answering one token: every token id ends generation.

    Untrained, the quick LLM never emits its end token and fills all 128 new tokens of every
    answer, which makes a chapter's pool feedback take minutes; with greedy search and every
    id an end token, each answer is one decoding step.
    """
    folder = tmp_path_factory.mktemp("llm") / "one-token"
    shutil.copytree(quick_llm, folder)
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    generation = json.loads((folder / "generation_config.json").read_text())
    generation["eos_token_id"] = list(range(vocab))
    (folder / "generation_config.json").write_text(json.dumps(generation))
    return folder


@pytest.fixture()
def params(one_token_llm, tiny_encoder_dir):
    return dict(task="lamp2", scale="tiny", llm=one_token_llm, beams=1, encoder=tiny_encoder_dir,
                rspg_encoder=tiny_encoder_dir, rspg_max_length=32, rspg_epochs=2, with_ropg=False)


@pytest.mark.slow
def test_selection_chapter_runs(tmp_path, params):
    nb = run_chapter("04_selection", tmp_path, **params)
    text = outputs_text(nb)
    for name in ("wig", "nqc", "sigma_max", "sigma_x", "rspg_pre", "rspg_post", "this build", "paper",
                 "Table 4", "Table 3", "best single retriever", "Pool: none, recency, bm25, dense."):
        assert name in text
    assert "ropg" not in text.split("Pool:")[1].split("\n")[0]
    assert "**lamp2**: success rate RSPG-PRE" in text  # the sentence generated from the numbers
    assert "lamp1" not in text.split("Table 4")[0]  # only the requested task
    assert "Warning" not in text


@pytest.mark.slow
def test_oracle_chapter_runs(tmp_path, params):
    nb = run_chapter("05_oracle", tmp_path, **params)
    text = outputs_text(nb)
    for name in ("oracle_lower", "oracle_upper", "rspg_pre_no_ropg", "rspg_post_no_ropg", "this build", "paper",
                 "of the oracle upper bound", "Pools: no-ropg: none, recency, bm25, dense."):
        assert name in text
    assert "(paper: RSPG-POST 0.430, 91.9% of 0.468)" in text  # the paper's own LaMP-2 ratio beside ours
    assert "Only one pool was run" in text
    assert "Warning" not in text


@pytest.mark.slow
def test_rspg_command_prints_the_tables(tmp_path, monkeypatch, capsys, one_token_llm, tiny_encoder_dir):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser()
    rspg_cli.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rspg", "--task", "lamp3", "--scale", "tiny", "--methods", "post", "--with-ropg",
                              "false", "--llm", str(one_token_llm), "--beams", "1", "--encoder", str(tiny_encoder_dir),
                              "--rspg-encoder", str(tiny_encoder_dir), "--rspg-max-length", "32", "--rspg-epochs", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for name in ("Success rate (test split", "rspg_post", "sigma_max", "End-to-end metrics", "mae", "rmse",
                 "Oracle bounds", "oracle_upper", "rspg_post_no_ropg"):
        assert name in out
    assert "rspg_pre" not in out.split("End-to-end")[0]  # --methods post trains RSPG-Post only
