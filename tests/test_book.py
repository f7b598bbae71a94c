"""Chapters run as typed with papermill (tiny scale, a private artifact cache)."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_chapter(name, tmp_path, **params):
    out = tmp_path / f"{name}.out.ipynb"
    args = [sys.executable, "-m", "papermill", str(ROOT / "book" / f"{name}.ipynb"), str(out),
            "--log-level", "ERROR", "-k", "python3"]
    for key, value in params.items():
        args += ["-p", key, str(value)]
    env = dict(os.environ, LAMPKIT_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    subprocess.run(args, check=True, env=env, cwd=ROOT / "book", timeout=600)
    return nbformat.read(out, as_version=4)


def outputs_text(nb):
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(str(out.get("text", "")) + str(data.get("text/markdown", "")) + str(data.get("text/plain", "")))
    return "\n".join(texts)


def test_data_chapter_for_one_task(tmp_path):
    nb = run_chapter("01_data", tmp_path, task="lamp4", scale="tiny")
    text = outputs_text(nb)
    assert "lamp4" in text and "Personalized News Headline Generation" in text
    assert "lamp2" not in text.split("### ")[-1]  # only the requested task's example
    assert "paper (real LaMP)" in text


@pytest.fixture(scope="module")
def quick_llm(tmp_path_factory):
    """A few dozen steps of a tiny T5 trained by lampkit's own trainer (not a useful model)."""
    from lampkit.llm_train import TrainConfig, train_small_llm

    out = tmp_path_factory.mktemp("llm") / "quick"
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("LAMPKIT_CACHE")
    os.environ["LAMPKIT_CACHE"] = str(cache)
    try:
        train_small_llm(out, scale="tiny", config=TrainConfig.quick(), tasks="lamp2")
    finally:
        if old is None:
            os.environ.pop("LAMPKIT_CACHE", None)
        else:
            os.environ["LAMPKIT_CACHE"] = old
    return out


@pytest.mark.slow
def test_retrieval_chapter_runs_with_a_local_llm(tmp_path, quick_llm):
    nb = run_chapter("02_retrieval", tmp_path, task="lamp2", scale="tiny", llm=quick_llm, beams=2)
    text = outputs_text(nb)
    for name in ("none", "bm25", "recency", "dense", "rrf", "this build", "paper"):
        assert name in text
    assert "TqdmWarning" not in text
    assert "the condition" in text  # the retrieval-matters sentence is generated from the numbers
