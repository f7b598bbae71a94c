"""The content-addressed artifact cache."""

import multiprocessing as mp
from pathlib import Path

import pytest

from lampkit.store.cache import ArtifactCache, cache_key
from lampkit.store.version import code_version


def test_key_depends_on_stage_config_and_code():
    a = cache_key("s", {"x": 1, "y": [1, 2]}, ("lampkit.tasks",))
    assert a == cache_key("s", {"y": [1, 2], "x": 1}, ("lampkit.tasks",))  # order of keys is irrelevant
    assert a != cache_key("t", {"x": 1, "y": [1, 2]}, ("lampkit.tasks",))
    assert a != cache_key("s", {"x": 2, "y": [1, 2]}, ("lampkit.tasks",))
    assert a != cache_key("s", {"x": 1, "y": [1, 2]}, ("lampkit.store.io",))


def test_code_version_is_per_module():
    assert code_version("lampkit.tasks") != code_version("lampkit.store.io")
    assert code_version("lampkit.tasks", "lampkit.store.io") == code_version("lampkit.store.io", "lampkit.tasks")
    with pytest.raises(ValueError, match="no lampkit module"):
        code_version("lampkit.nope")


def test_built_once_and_reused(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def build(d: Path):
        calls.append(1)
        (d / "out.txt").write_text("hello")

    p1 = cache.get_or_build("stage", {"a": 1}, build)
    p2 = cache.get_or_build("stage", {"a": 1}, build)
    assert p1 == p2 and (p1 / "out.txt").read_text() == "hello" and len(calls) == 1


def test_failed_build_leaves_nothing(tmp_path):
    cache = ArtifactCache(tmp_path)

    def boom(d: Path):
        (d / "half.txt").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.get_or_build("stage", {"a": 1}, boom)
    leftovers = [p for p in (tmp_path / "stage").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    p = cache.get_or_build("stage", {"a": 1}, lambda d: (d / "ok").write_text("1"))
    assert (p / "ok").exists()


def _build_in_process(root: str, out: "mp.Queue") -> None:
    def build(d: Path):
        marker = Path(root) / "builds"
        with open(marker, "a") as fh:
            fh.write("x")
        (d / "v").write_text("1")

    out.put(str(ArtifactCache(root).get_or_build("stage", {"k": 1}, build)))


def test_two_processes_build_once(tmp_path):
    q = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=_build_in_process, args=(str(tmp_path), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    paths = {q.get(timeout=5), q.get(timeout=5)}
    assert len(paths) == 1
    assert (tmp_path / "builds").read_text() == "x"


def test_book_execution_cache_cleared_when_lampkit_changes(tmp_path, monkeypatch):
    from lampkit.store import bookcache

    cache = tmp_path / "_build" / ".jupyter_cache"
    doctrees = tmp_path / "_build" / ".doctrees"  # Sphinx re-reads (so re-executes) only pages not in here
    cache.mkdir(parents=True)
    assert bookcache.sync_execution_cache(tmp_path) is True  # no stamp yet: cleared
    cache.mkdir()
    doctrees.mkdir()
    assert bookcache.sync_execution_cache(tmp_path) is False and cache.exists() and doctrees.exists()  # same code
    monkeypatch.setattr(bookcache, "code_version", lambda: "another-version")
    assert bookcache.sync_execution_cache(tmp_path) is True and not cache.exists() and not doctrees.exists()
    assert (tmp_path / "_build" / ".lampkit-code-version").read_text().strip() == "another-version"
