"""A user's mistake on the command line is one line naming it, with a non-zero exit status and no
traceback (``--debug`` or ``LAMPKIT_DEBUG=1`` shows it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lampkit.cli import main, parse_retrievers, parse_shard
from lampkit.config import ConfigError


@pytest.mark.parametrize("argv, says", [
    (["feedback", "--shard", "2"], "--shard takes START:STOP"),          # was: inputs 2..end
    (["feedback", "--shard=-2:"], "--shard takes START:STOP"),            # was: the last two (a Python slice)
    (["feedback", "--shard", "4:1"], "0 <= START < STOP"),                # was: KeyError 'example_id'
    (["feedback", "--shard", "abc"], "got 'abc'"),                        # was: ValueError traceback
    (["feedback", "--retrievers", "Dense"], "unknown retriever(s) 'Dense'; choose from none, bm25"),  # was: a traceback
    (["feedback", "--retrievers", "bm25,Dense"], "unknown retriever(s) 'Dense'"),  # was: bm25 alone, exit 0
    (["feedback", "--retrievers", "foo"], "choose from none, bm25, recency, dense, rrf or all"),
])
def test_a_bad_option_is_one_line_with_status_2(argv, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and err.startswith("lampkit feedback: error:")


@pytest.mark.parametrize("argv, says", [
    (["feedback", "--k", "-1"], "k and beams must be at least 1, got k=-1"),  # was: every item but the last
    (["feedback", "--beams", "0"], "got k=4, beams=0"),
    (["feedback", "--task", "lamp9"], "unknown task 'lamp9'"),
])
def test_a_bad_setting_is_one_line_with_status_2(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and err.startswith("lampkit: error:")
    with pytest.raises(ConfigError, match=says.split(",")[0]):
        main(["--debug", *argv])


def test_a_missing_data_folder_is_one_line_with_status_1(tmp_path, capsys):
    assert main(["stats", "--data-dir", str(tmp_path / "nowhere"), "--task", "lamp2"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nowhere" in err


def test_the_console_command_prints_no_traceback(monkeypatch):
    proc = subprocess.run([sys.executable, "-m", "lampkit", "feedback", "--task", "lamp9"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown task 'lamp9'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "lampkit", "feedback", "--task", "lamp9"], capture_output=True,
                          text=True, env={**__import__("os").environ, "LAMPKIT_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_shard_and_retriever_parsers():
    assert parse_shard("0:100") == (0, 100) and parse_shard("3:4") == (3, 4)
    assert parse_retrievers("all") is None
    assert parse_retrievers("bm25,dense,bm25") == ("bm25", "dense")


def test_feedback_on_a_test_split_without_golds_names_the_dev_split(tmp_path, capsys):
    from lampkit.data.layout import split_paths
    from lampkit.tasks import get_task

    assert main(["synth", "--out", str(tmp_path / "data"), "--task", "lamp2", "--scale", "tiny"]) == 0
    split_paths(tmp_path / "data", get_task("lamp2"), "test", "time")[1].unlink()  # the benchmark's test split
    capsys.readouterr()
    assert main(["feedback", "--data-dir", str(tmp_path / "data"), "--task", "lamp2", "--split", "test",
                 "--store", str(tmp_path / "fb.sqlite")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no gold output" in err and "--split dev" in err


def _options(parser, path=("lampkit",)):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path), action


def test_every_option_has_help_and_shows_its_default():
    """Every option and argument of every subcommand has help text; an option with a default shows it."""
    from lampkit.cli import _Formatter, build_parser

    options = list(_options(build_parser()))
    assert len(options) > 100
    assert [(where, a.dest) for where, a in options if not a.help] == []
    formatter = _Formatter("lampkit")
    for where, a in options:
        if a.option_strings and not a.required and a.default not in (None, False):
            assert "default" in formatter._get_help_string(a), (where, a.dest)


def test_merge_of_a_missing_or_foreign_shard_creates_nothing(tmp_path, capsys):
    """Was: sqlite's ATTACH created the mistyped shard as an empty file, then a traceback."""
    missing, into = tmp_path / "missing.sqlite", tmp_path / "all.sqlite"
    assert main(["merge", str(missing), "--into", str(into)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "missing.sqlite does not exist" in err
    assert not missing.exists() and not into.exists()
    foreign = tmp_path / "notes.sqlite"
    foreign.write_bytes(b"not a database at all, just some bytes " * 100)
    assert main(["merge", str(foreign), "--into", str(into)]) == 1
    assert "notes.sqlite is damaged or not a feedback store" in capsys.readouterr().err
