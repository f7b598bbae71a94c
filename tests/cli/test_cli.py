"""The lampkit command line on small files (synth, validate, evaluate, stats)."""

import json
import subprocess
import sys

import pytest

from lampkit.cli import main


def _golds(path, task, pairs):
    path.write_text(json.dumps({"task": task, "golds": [{"id": i, "output": o} for i, o in pairs]}))
    return path


def test_evaluate_prints_aggregate_metrics_as_json(tmp_path, capsys):
    g = _golds(tmp_path / "g.json", "LaMP_2", [("a", "comedy"), ("b", "action"), ("c", "romance")])
    p = _golds(tmp_path / "p.json", "LaMP_2", [("b", "action"), ("a", "drama"), ("c", "romance")])
    assert main(["evaluate", "--task", "lamp2", "--golds", str(g), "--preds", str(p)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == pytest.approx(2 / 3)  # b and c right, a wrong
    # macro F1 over LaMP-2's 15 tags, written out: action and romance each right once (F1 1), comedy
    # missed (0) and drama predicted wrongly (0); the other 11 tags never occur (0)
    assert out["f1"] == pytest.approx(2 / 15)
    assert set(out) == {"accuracy", "f1"}


def test_evaluate_reports_bad_files(tmp_path, capsys):
    g = _golds(tmp_path / "g.json", "LaMP_3", [("a", "4")])
    p = _golds(tmp_path / "p.json", "LaMP_3", [("zz", "4")])
    assert main(["evaluate", "--task", "lamp3", "--golds", str(g), "--preds", str(p)]) == 1
    captured = capsys.readouterr()
    # the file, the record and the field at fault, and no traceback or half result
    assert captured.err.strip() == f"error: {p}, record a, field 'id': id missing from predictions (present in {g})"
    assert captured.out == ""


def _tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synth_same_seed_same_bytes_and_it_validates(tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["synth", "--out", str(a), "--seed", "3", "--scale", "tiny"]) == 0
    assert main(["synth", "--out", str(b), "--seed", "3", "--scale", "tiny"]) == 0
    assert main(["synth", "--out", str(c), "--seed", "4", "--scale", "tiny"]) == 0
    ta, tb, tc = _tree_bytes(a), _tree_bytes(b), _tree_bytes(c)
    assert ta == tb
    assert ta.keys() == tc.keys() and ta != tc
    capsys.readouterr()
    assert main(["validate", str(a), "--task", "all"]) == 0
    report = capsys.readouterr().out
    assert "OK" in report and "LaMP_7" in report


def test_validate_fails_on_a_broken_tree(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--scale", "tiny", "--task", "lamp2"]) == 0
    q = tmp_path / "time" / "LaMP_2" / "new" / "dev" / "dev_questions.json"
    records = json.loads(q.read_text())
    del records[1]["profile"][0]["tag"]
    q.write_text(json.dumps(records))
    capsys.readouterr()
    assert main(["validate", str(tmp_path), "--task", "lamp2"]) == 1
    out = capsys.readouterr().out
    assert "dev_questions.json" in out and "tag" in out and str(records[1]["id"]) in out


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code`` (contextlib, io,
    json and sys imported for it); its standard output must be that list alone."""
    script = (f"import contextlib, io, json, sys\n{code}"
              f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv", [["--help"], ["ropg", "--help"], ["rspg", "--help"], ["longform", "run", "--help"],
                                  ["claims", "--help"]])
def test_help_and_chapter_checks_load_no_torch(argv):
    """The parser (every stage's flags, from the stage configs) and a chapter's parameter check are
    built from torch-free config modules: ``lampkit --help`` does not wait for torch to load."""
    code = (f"from lampkit.cli import build_parser\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    build_parser().parse_args({argv!r})\n"
            "from lampkit.chapters import chapter_run\n"
            "chapter_run('04_selection', {'preset': 'paper', 'task': 'lamp2'}).table()\n")
    assert _loaded_after(code, ("torch", "transformers")) == []


def test_help_loads_neither_pandas_nor_torch():
    """``lampkit --help`` builds the parser without the heavy libraries (pandas alone took a third of a
    second): the stage modules it reads import pandas where a table is made, not at import."""
    code = ("from lampkit.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])\n")
    assert _loaded_after(code, ("pandas", "torch", "transformers", "scipy")) == []
