"""``lampkit cache info`` and ``lampkit cache clear``: entries, sizes, and removal by name."""

from __future__ import annotations

from lampkit.cli import main
from lampkit.store import cache


def _fill(root):
    (root / "mini-lamp" / "k1").mkdir(parents=True)
    (root / "mini-lamp" / "k1" / ".complete").write_text("k1")
    (root / "mini-lamp" / "k1" / "data.json").write_bytes(b"x" * 3000)
    (root / "mini-lamp" / ".k2.tmp").mkdir()  # an interrupted build: not counted as an artifact
    (root / "embeddings.sqlite").write_bytes(b"e" * 2048)
    (root / "embeddings.sqlite-wal").write_bytes(b"w" * 1024)
    (root / "feedback.sqlite.corrupt-20261204T190000Z").write_bytes(b"c" * 10)


def test_info_lists_each_entry_with_companions_sizes_and_artifacts(tmp_path, capsys):
    _fill(tmp_path)
    found = {e.name: e for e in cache.entries(tmp_path)}
    assert set(found) == {"mini-lamp", "embeddings.sqlite", "feedback.sqlite.corrupt-20261204T190000Z"}
    assert found["embeddings.sqlite"].size == 3072 and len(found["embeddings.sqlite"].paths) == 2
    assert found["mini-lamp"].items == 1 and found["mini-lamp"].size == 3002
    assert main(["cache", "info", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "3.0 KiB" in out and "1 artifact " in out and "damaged file set aside" in out


def test_clear_removes_the_named_entries_or_all_and_refuses_an_unknown_one(tmp_path, capsys):
    _fill(tmp_path)
    assert main(["cache", "clear", "embeddings.sqlite", "nope", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "mini-lamp" in err and (tmp_path / "embeddings.sqlite").exists()  # nothing removed
    assert main(["cache", "clear", "embeddings.sqlite", "--root", str(tmp_path)]) == 0
    assert not (tmp_path / "embeddings.sqlite").exists() and not (tmp_path / "embeddings.sqlite-wal").exists()
    assert (tmp_path / "mini-lamp").is_dir()
    assert "removed embeddings.sqlite (3.0 KiB)" in capsys.readouterr().out
    assert main(["cache", "clear", "--root", str(tmp_path)]) == 0
    assert list(tmp_path.iterdir()) == []
    assert main(["cache", "info", "--root", str(tmp_path)]) == 0
    assert "(empty)" in capsys.readouterr().out


def test_info_reads_the_cache_that_lampkit_cache_names(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path))
    (tmp_path / "feedback.sqlite").write_bytes(b"f" * 100)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "feedback.sqlite" in out and "100 B" in out
