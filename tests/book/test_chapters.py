"""A chapter's parameters, its subcommand's flags and its configurations are one thing (lampkit.chapters)."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from lampkit import chapters
from lampkit.cli import build_parser
from lampkit.cli import longform as cli_longform
from lampkit.cli import stages as cli_stages
from lampkit.config import ConfigError
from notebooks import ROOT


def _parameters_cell(chapter: str) -> str:
    nb = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    return "".join(cell["source"])


def _subcommand(command: str) -> argparse.ArgumentParser:
    """The parser of ``command`` (``"longform run"``: a subcommand's subcommand)."""
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


@pytest.mark.parametrize("chapter", list(chapters.CHAPTERS))
def test_parameters_cell_is_generated_from_the_chapters_configs(chapter):
    assert _parameters_cell(chapter) == chapters.parameters_source(chapter)


@pytest.mark.parametrize("chapter", list(chapters.CHAPTERS))
def test_subcommand_flags_are_the_chapters_parameters(chapter):
    ch = chapters.CHAPTERS[chapter]
    not_parameters = cli_longform.NOT_PARAMETERS | cli_stages.NOT_PARAMETERS  # --out, --save
    flags = {a.dest for a in _subcommand(ch.command)._actions if a.dest != "help"} - not_parameters
    assert flags == set(ch.params())
    # and both come from the same classes: every flag is an option of one of the chapter's configurations
    assert set(ch.params()) - {"preset"} == {o.param for cls in ch.configs for o in cls.options()}


def test_the_same_values_through_flags_and_parameters():
    args = _subcommand("rspg").parse_args(["--preset", "paper", "--ropg-epochs", "5", "--task", "lamp3",
                                           "--rspg-max-length", "512", "--with-ropg", "false"])
    by_flags = chapters.from_args("04_selection", args)
    by_params = chapters.chapter_run("04_selection", {"preset": "paper", "ropg_epochs": 5, "task": "lamp3",
                                                      "rspg_max_length": 512, "with_ropg": False})
    assert by_flags == by_params
    assert by_flags.ropg.config.epochs == 5 and by_flags.ropg.config.lr == 1e-5  # the paper's, but 5 epochs
    assert by_flags.rspg.encoder == "allenai/longformer-base-4096" and by_flags.rspg.max_length == 512


def test_bad_parameters_name_themselves_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"unknown chapter parameter 'epochs'.*allowed: task, .*ropg_epochs"):
        chapters.chapter_run("03_ropg", {"epochs": 3})
    with pytest.raises(ConfigError, match="'preset' must be one of book, paper"):
        chapters.chapter_run("03_ropg", {"preset": "fast"})
    with pytest.raises(ConfigError, match="'eval_split' must be one of 'auto', 'dev', 'test'"):
        chapters.chapter_run("02_retrieval", {"eval_split": "train"})
    with pytest.raises(ConfigError, match="methods 'ppo'"):
        chapters.chapter_run("03_ropg", {"methods": "ppo"})
    # what is not a plain value (modules, functions) is no parameter
    assert chapters.chapter_run("03_ropg", {"json": json, "f": print, "_hidden": 1}).preset == "book"


def test_a_chapter_run_with_an_unknown_parameter_fails_naming_it(tmp_path):
    out = tmp_path / "out.ipynb"
    env = dict(os.environ, LAMPKIT_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "book" / "03_ropg.ipynb"), str(out),
                           "--log-level", "ERROR", "-k", "python3", "-p", "scale", "tiny", "-p", "ropg_epoch", "1"],
                          env=env, cwd=ROOT / "book", capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr + (out.read_text() if out.exists() else "")
    assert "unknown chapter parameter 'ropg_epoch'" in text and "did you mean 'ropg_epochs'" in text


def test_longform_flags_and_parameters_give_the_same_settings():
    args = _subcommand("longform run").parse_args(["--scale", "tiny", "--steps", "7", "--eval-split", "dev",
                                                   "--ablation-ranker", "RankSnippet"])
    by_flags = chapters.from_args("07_multistage", args).longform
    by_params = chapters.chapter_run("07_multistage", {"scale": "tiny", "steps": 7, "eval_split": "dev",
                                                       "ablation_ranker": "RankSnippet"}).longform
    assert by_flags == by_params and by_flags.finetune.steps == 7
    with pytest.raises(ConfigError, match="'ablation_ranker' must be one of"):
        chapters.chapter_run("07_multistage", {"ablation_ranker": "RankBest"})
    with pytest.raises(ConfigError, match="unknown chapter parameter 'step'.*did you mean 'steps'"):
        chapters.chapter_run("07_multistage", {"step": 7})


@pytest.mark.parametrize("command", ["stats", "synth", "llm train"])
def test_data_flags_come_from_the_core_settings(command):
    from lampkit.pipeline import Settings

    parser = _subcommand(command)
    flags = {a.dest for a in parser._actions}
    core = {o.param for o in Settings.options()}
    assert {"task", "scale", "seed"} <= flags
    for action in parser._actions:  # each data flag is the core setting's, with its help and choices
        if action.dest in core:
            option = next(o for o in Settings.options() if o.param == action.dest)
            assert action.option_strings == [option.flag] and action.help.startswith(option.help)


def test_eval_split_auto_is_test_where_the_data_has_its_golds_and_dev_where_it_hides_them(tmp_path):
    """Was: chapters 02, 04-06 defaulted to the test split, and real LaMP (test golds hidden) crashed them."""
    from fakes import lamp2_examples
    from lampkit.data.layout import write_split

    for split, seed in (("train", 0), ("dev", 1), ("test", 2)):
        write_split(tmp_path / "hidden", "lamp2", split, lamp2_examples(4, seed=seed), with_outputs=split != "test")
        write_split(tmp_path / "given", "lamp2", split, lamp2_examples(4, seed=seed))
    for chapter in ("02_retrieval", "04_selection", "05_oracle", "06_results"):
        said: list[str] = []
        run = chapters.chapter_run(chapter, {"data_dir": str(tmp_path / "hidden"), "task": "lamp2"})
        assert run.run.eval_split == "auto"
        resolved = run.resolved(say=said.append)
        assert resolved.run.eval_split == "dev" and resolved.settings == run.settings
        assert len(said) == 1 and "lamp2" in said[0] and "dev" in said[0]
        said.clear()
        given = chapters.chapter_run(chapter, {"data_dir": str(tmp_path / "given"), "task": "lamp2"})
        assert given.resolved(say=said.append).run.eval_split == "test" and not said
        # the embedded mini-LaMP has its test golds; a split you set is kept, with nothing said
        assert chapters.chapter_run(chapter, {"task": "lamp2"}).resolved(say=said.append).run.eval_split == "test"
        explicit = chapters.chapter_run(chapter, {"data_dir": str(tmp_path / "hidden"), "eval_split": "test"})
        assert explicit.resolved(say=said.append).run.eval_split == "test" and not said
