"""Chapters run as typed with papermill (tiny scale, a private artifact cache)."""

import pytest

from notebooks import outputs_text, run_chapter


def test_data_chapter_for_one_task(tmp_path):
    nb = run_chapter("01_data", tmp_path, task="lamp4", scale="tiny")
    text = outputs_text(nb)
    assert "lamp4" in text and "Personalized News Headline Generation" in text
    assert "lamp2" not in text.split("### ")[-1]  # only the requested task's example
    assert "paper (real LaMP)" in text


@pytest.mark.slow
def test_retrieval_chapter_runs_with_a_local_llm(tmp_path, quick_llm):
    nb = run_chapter("02_retrieval", tmp_path, task="lamp2", scale="tiny", llm=quick_llm, beams=2)
    text = outputs_text(nb)
    for name in ("none", "bm25", "recency", "dense", "rrf", "this build", "paper"):
        assert name in text
    assert "TqdmWarning" not in text
    assert "the condition" in text  # the retrieval-matters sentence is generated from the numbers


def test_environment_chapter(tmp_path, quick_llm):
    nb = run_chapter("09_environment", tmp_path, task="lamp2", scale="tiny", llm=quick_llm)
    text = outputs_text(nb)
    assert "fingerprint" in text and "torch" in text and "sha256:" in text
