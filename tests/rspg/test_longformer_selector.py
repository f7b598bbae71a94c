"""A selector on a Longformer (the paper's RSPG encoder): global attention on the first token, as
transformers' Longformer classifier sets it; trained with the paper's settings on a tiny Longformer."""

import numpy as np
import pytest
import torch

from lampkit.retrievers.encoders import load_encoder, mean_pool, model_inputs
from lampkit.rspg.selector import Selector, predict, train_selector

pytestmark = pytest.mark.usefixtures("one_thread")


def test_model_inputs_add_global_attention_for_a_longformer_only(tiny_encoder, tiny_longformer_dir):
    batch = {"input_ids": torch.tensor([[101, 7592, 102, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 0]])}
    assert model_inputs(tiny_encoder.model, batch) is batch  # BERT: unchanged
    longformer = load_encoder(str(tiny_longformer_dir), device="cpu")
    given = model_inputs(longformer.model, batch)
    assert given["global_attention_mask"].tolist() == [[1, 0, 0, 0]]
    mine = {**batch, "global_attention_mask": torch.tensor([[1, 1, 0, 0]])}
    assert model_inputs(longformer.model, mine) is mine  # a mask given is kept


def test_longformer_selector_embeds_with_global_attention_on_the_first_token(tiny_longformer_dir):
    selector = Selector.from_encoder(str(tiny_longformer_dir), max_length=1024, device="cpu").eval()
    texts = ["the movie was good " * 30, "a short text"]  # the first beyond the 32-token local window
    with torch.no_grad():
        got = selector.embed(texts)
        batch = selector.tokenizer(texts, truncation=True, max_length=1024, padding=True, return_tensors="pt")
        glob = torch.zeros_like(batch["attention_mask"])
        glob[:, 0] = 1
        want = mean_pool(selector.encoder(**batch, global_attention_mask=glob).last_hidden_state, batch["attention_mask"])
        local = mean_pool(selector.encoder(**batch).last_hidden_state, batch["attention_mask"])
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got[0], local[0], atol=1e-4)  # global attention changes the long text's embedding


def test_longformer_selector_trains_with_the_papers_settings_and_round_trips(tmp_path, tiny_longformer_dir):
    rng = np.random.default_rng(0)
    texts = [[f"input {i} retriever {j} " + "word " * int(rng.integers(5, 60)) for j in range(3)] for i in range(6)]
    evals = rng.random((6, 3))
    selector = train_selector(texts, evals, str(tiny_longformer_dir), epochs=2, lr=1e-5, batch_size=4,
                              micro_batch_size=2, max_length=1024, trainable_layers=None, warmup_ratio=0.05,
                              schedule="linear", max_grad_norm=1.0, device="cpu")
    assert len(selector.history) == 2 and not selector.frozen
    chosen = predict(selector, texts)
    loaded = Selector.from_pretrained(selector.save_pretrained(tmp_path / "selector"), device="cpu")
    np.testing.assert_array_equal(predict(loaded, texts), chosen)


def test_a_text_shared_by_retrievers_is_encoded_once_with_the_same_scores(tiny_longformer_dir, monkeypatch):
    """Retrievers that return the same entries give one selector text: the forward pass encodes
    it once, and the scores equal those of encoding every text apart."""
    sel = Selector.from_encoder(str(tiny_longformer_dir), max_length=64, device="cpu").eval()
    groups = [["input one with a, b", "input one with a, b", "input one, none"],
              ["input two with c", "input two with d", "input two with c"]]
    with torch.no_grad():
        apart = torch.stack([sel.score_texts(group) for group in groups])
        seen = []
        score_texts = sel.score_texts
        monkeypatch.setattr(sel, "score_texts", lambda texts, cache=None: seen.append(list(texts)) or score_texts(texts))
        together = sel(groups)
    assert seen == [["input one with a, b", "input one, none", "input two with c", "input two with d"]]
    torch.testing.assert_close(together, apart, rtol=0, atol=1e-6)
