"""The lampkit command line on small files (synth, validate, evaluate, stats)."""

import json

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
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert set(out) == {"accuracy", "f1"}


def test_evaluate_reports_bad_files(tmp_path, capsys):
    g = _golds(tmp_path / "g.json", "LaMP_3", [("a", "4")])
    p = _golds(tmp_path / "p.json", "LaMP_3", [("zz", "4")])
    assert main(["evaluate", "--task", "lamp3", "--golds", str(g), "--preds", str(p)]) == 1
    err = capsys.readouterr().err
    assert "p.json" in err or "g.json" in err
