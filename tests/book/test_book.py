"""Chapters run as typed with papermill (tiny scale, a private artifact cache)."""

import pytest

from notebooks import outputs_text, run_chapter, toc_pages


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


@pytest.mark.slow
def test_whole_book_builds_at_the_tiny_scale(tmp_path):
    """Every chapter of the table of contents, executed at the tiny scale on the embedded defaults,
    with warnings as errors; the results page shows Table 3 for all seven tasks. Built again as
    `make book` does: nothing executes after no change, every chapter after a change in lampkit."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path


    root = Path(__file__).resolve().parents[2]
    book = tmp_path / "book"
    shutil.copytree(root / "book", book, ignore=shutil.ignore_patterns("_build"))
    # chapters include lampkit's source (literalinclude ../lampkit/...): it lies beside the book, as in the repository
    shutil.copytree(root / "lampkit", tmp_path / "lampkit", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, LAMPKIT_SCALE="tiny", LAMPKIT_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYDEVD_DISABLE_FILE_VALIDATION="1")
    jb = Path(sys.executable).with_name("jupyter-book")

    def make_book() -> str:  # the README's `make book`: the lampkit stamp, then the build
        sync = subprocess.run([sys.executable, "-m", "lampkit.store.bookcache", str(book)], env=env, capture_output=True,
                              text=True, timeout=60)
        assert sync.returncode == 0, sync.stderr
        done = subprocess.run([str(jb), "build", str(book), "--warningiserror", "--keep-going"], env=env,
                              capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return done.stdout + done.stderr

    notebooks = sorted(p.stem for p in book.glob("*.ipynb"))
    assert len(notebooks) == 9

    def executed(log: str) -> list[str]:
        return sorted(n for n in notebooks if f"{n}.ipynb: Executed notebook" in log)

    assert executed(make_book()) == notebooks
    pages = toc_pages(book)
    assert [p for p in pages if not p.startswith("api/")] == ["intro", *notebooks]  # the introduction, chapters 01-09
    for page in pages:
        html = (book / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8")
        assert "Traceback" not in html, page
    results = (book / "_build" / "html" / "06_results.html").read_text(encoding="utf-8")
    for name in ("lamp1", "lamp2", "lamp3", "lamp4", "lamp5", "lamp6", "lamp7", "rspg-post", "ropg-kd"):
        assert name in results, name
    assert "&lt;sup&gt;" not in results  # markers render as superscripts, not as escaped text

    # no change: nothing executes again; a change in lampkit (another code version in the stamp):
    # every chapter executes again, its stages coming from the artifact cache
    assert executed(make_book()) == []
    (book / "_build" / ".lampkit-code-version").write_text("an-older-lampkit\n")
    assert executed(make_book()) == notebooks
