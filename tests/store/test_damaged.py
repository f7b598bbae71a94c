"""A damaged SQLite file is found on open: caches are set aside and rebuilt, a file you passed is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lampkit.cli import main
from lampkit.feedback import FeedbackStore, pool_feedback
from lampkit.retrievers.dense import Dense
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache
from lampkit.store import sqlite
from lampkit.tasks import get_task
from tests.fakes import FakeLLM, lamp2_examples


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "header":
        path.write_bytes(b"not a database, honest" + data[22:])
    else:  # truncated mid-page
        path.write_bytes(data[: len(data) // 2 + 100])


def _asides(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name + ".corrupt-")
                  and not p.name.endswith(("-wal", "-shm")))


def _dense_run(encoder, cache_path: Path):
    task = get_task("lamp2")
    examples = lamp2_examples(12, profile=8, seed=3)
    cached = CachedEncoder(encoder, EmbeddingCache(cache_path))
    rankings = Dense(cached).rank_many(task, examples)
    cached.cache.close()
    return [r.order.tolist() for r in rankings], [r.scores for r in rankings], cached


@pytest.mark.parametrize("how", ["header", "truncated"])
def test_a_damaged_embedding_cache_is_named_set_aside_and_rebuilt_with_the_same_results(
        tiny_encoder, tmp_path, capsys, how):
    clean_order, clean_scores, _ = _dense_run(tiny_encoder, tmp_path / "clean" / "embeddings.sqlite")
    path = tmp_path / "run" / "embeddings.sqlite"
    _dense_run(tiny_encoder, path)
    # a checkpoint folds the write-ahead log into the file, so the damage is in the pages read on open
    import sqlite3
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(path, how)
    assert sqlite.problem(path) is not None
    capsys.readouterr()

    order, scores, cached = _dense_run(tiny_encoder, path)
    err = capsys.readouterr().err
    aside = _asides(path)
    assert len(aside) == 1 and str(path) in err and str(aside[0]) in err and "damaged" in err
    assert cached.n_encoded > 0  # recomputed, not read from the damaged copy
    assert order == clean_order
    for a, b in zip(scores, clean_scores):
        np.testing.assert_array_equal(a, b)
    assert sqlite.problem(path) is None
    # the rebuilt cache serves the next run without a warning
    _dense_run(tiny_encoder, path)
    assert "damaged" not in capsys.readouterr().err and len(_asides(path)) == 1


def test_a_damaged_store_in_the_cache_is_rebuilt_and_one_you_passed_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    task, examples = get_task("lamp2"), lamp2_examples(6)
    from lampkit.retrievers import Recency

    clean = pool_feedback(task, examples, [Recency()], FakeLLM(), FeedbackStore(tmp_path / "clean.sqlite"),
                          show_progress=False)
    default = FeedbackStore()
    pool_feedback(task, examples, [Recency()], FakeLLM(), default, show_progress=False)
    _damage(default.path, "header")
    capsys.readouterr()
    again = pool_feedback(task, examples, [Recency()], FakeLLM(), FeedbackStore(), show_progress=False)
    assert str(default.path) in capsys.readouterr().err and len(_asides(default.path)) == 1
    assert again.equals(clean)

    passed = tmp_path / "mine.sqlite"
    passed.write_text("these are my notes, not a feedback store\n" * 20)
    with pytest.raises(sqlite.DamagedDatabase, match="mine.sqlite.*--store"):
        FeedbackStore(passed)
    assert passed.read_text().startswith("these are my notes")  # never moved or touched
    assert not _asides(passed)


def test_the_cli_names_a_damaged_store_you_passed_in_one_line(tmp_path, capsys):
    bad = tmp_path / "shard.sqlite"
    bad.write_bytes(b"\0" * 4096)
    assert main(["merge", str(bad), "--into", str(tmp_path / "all.sqlite")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shard.sqlite" in err and "Traceback" not in err
