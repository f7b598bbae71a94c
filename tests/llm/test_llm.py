"""The frozen LLM (lampkit.llm.seq2seq) and the embedded LLM (lampkit.llm.small_t5, its training lampkit.llm.recipe), offline."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from lampkit.llm.seq2seq import Seq2SeqLLM, resolve_dtype
from lampkit.llm.recipe import train_small_llm
from lampkit.llm.small_t5 import TrainConfig, build_model, build_tokenizer

CORPUS = [
    "the doctor treated the sick man in the city",
    "stock markets fell sharply on monday",
    "a movie about a robot and a family",
    "the tag for the movie is sci-fi, comedy or true story",
    "Generate a headline for the following article: markets rose",
    "[1] or [2] 5 is the score for a great book",
] * 4
PROMPTS = [
    "the doctor",
    "stock markets fell sharply on monday and the doctor treated the sick man in the city",
    "a movie",
    "Generate a headline for the following article: the robot and the family read a book",
    "sci-fi",
    "the tag for the movie is comedy",
    "[1] or [2] great",
    "markets rose in the city of the robot family and the movie about a doctor was a great book",
    "monday",
]


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory):
    """A randomly initialised 1-layer T5 (d_model 32) and a word-level tokenizer, saved like FLAN-T5."""
    folder = tmp_path_factory.mktemp("tiny_t5")
    tokenizer = build_tokenizer(CORPUS, vocab_size=200)
    config = TrainConfig(vocab_size=200, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=1,
                         num_decoder_layers=1)
    torch.manual_seed(0)
    model = build_model(config, len(tokenizer))
    with torch.no_grad():  # larger weights than the default init: outputs that differ between prompts
        for p in model.parameters():
            p.mul_(4.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llm(tiny_t5_dir, monkeypatch_module):
    return Seq2SeqLLM.load(tiny_t5_dir, device="cpu", beams=3, max_new_tokens=6, max_input_length=24)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    yield mp
    mp.undo()


def test_tokenizer_round_trips_text_and_labels():
    tok = build_tokenizer(CORPUS, vocab_size=200)
    assert tok.pad_token_id == 0 and tok.eos_token_id == 1 and tok.unk_token_id == 2
    for text in ["sci-fi", "based on a book", "[1]", "5", "the doctor, treated (unseen-Word) 42!"]:
        ids = tok(text)["input_ids"]
        assert ids[-1] == tok.eos_token_id
        assert tok.unk_token_id not in ids
        assert tok.decode(ids, skip_special_tokens=True) == text


def test_load_reads_the_folder_offline(tiny_llm, tiny_t5_dir):
    assert tiny_llm.settings == {"beams": 3, "max_new_tokens": 6, "max_input_length": 24, "dtype": "float32"}
    assert tiny_llm.model_id.startswith("sha256:")
    assert Seq2SeqLLM.load(tiny_t5_dir, device="cpu").model_id == tiny_llm.model_id
    assert not tiny_llm.model.training
    # the counter is the tokenizer's: T5's end-of-sequence id included
    ids = tiny_llm.tokenizer("the doctor")["input_ids"]
    assert tiny_llm.counter.count("the doctor") == len(ids) and ids[-1] == tiny_llm.tokenizer.eos_token_id
    assert tiny_llm.counter.count("") == 1


def test_model_id_follows_the_weights(tiny_t5_dir, tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5_dir)
    with torch.no_grad():
        model.shared.weight[5, 0] += 1.0
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_t5_dir).save_pretrained(tmp_path)
    assert Seq2SeqLLM.load(tmp_path, device="cpu").model_id != Seq2SeqLLM.load(tiny_t5_dir, device="cpu").model_id


def test_batched_generation_keeps_the_order_of_the_prompts(tiny_llm):
    one_by_one = [tiny_llm.generate([p])[0] for p in PROMPTS]
    assert len(set(one_by_one)) > 2, "the tiny model should answer differently to different prompts"
    for batch_size in (1, 2, 4, 64):
        assert tiny_llm.generate(PROMPTS, batch_size=batch_size) == one_by_one
    reordered = PROMPTS[::-1]
    assert tiny_llm.generate(reordered, batch_size=4) == one_by_one[::-1]
    assert tiny_llm.generate([]) == []


def test_generation_uses_the_settings(tiny_llm):
    """Beam size, output length and input truncation reach model.generate; outputs equal HF's own."""
    calls = []
    real = tiny_llm.model.generate

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    tiny_llm.model.generate = spy
    try:
        outputs = tiny_llm.generate(PROMPTS, batch_size=4)
    finally:
        del tiny_llm.model.generate
    assert calls and all(c["num_beams"] == 3 and c["max_new_tokens"] == 6 and c["do_sample"] is False
                         for c in calls)
    assert max(c["input_ids"].shape[1] for c in calls) == 24  # the longest prompt, cut to 24 ids
    tok = tiny_llm.tokenizer
    for prompt, output in zip(PROMPTS, outputs):
        enc = tok([prompt], max_length=24, truncation=True, return_tensors="pt")
        ref = real(**enc, num_beams=3, max_new_tokens=6, do_sample=False)
        assert tok.decode(ref[0], skip_special_tokens=True).strip() == output
    greedy = Seq2SeqLLM(tiny_llm.model, tok, tiny_llm.model_id, "cpu", beams=1, max_new_tokens=6,
                        max_input_length=24)
    for prompt in PROMPTS:
        enc = tok([prompt], max_length=24, truncation=True, return_tensors="pt")
        ref = real(**enc, num_beams=1, max_new_tokens=6, do_sample=False)
        assert greedy.generate([prompt]) == [tok.decode(ref[0], skip_special_tokens=True).strip()]


def test_generation_is_deterministic_and_truncates_long_inputs(tiny_llm):
    long = PROMPTS[7] + " " + " ".join(["doctor"] * 50)
    first = tiny_llm.generate(PROMPTS)
    assert tiny_llm.generate(PROMPTS) == first
    # what lies beyond max_input_length ids cannot change the output
    ids = tiny_llm.tokenizer(long, max_length=24, truncation=True)["input_ids"]
    cut = tiny_llm.tokenizer.decode(ids, skip_special_tokens=True)
    assert tiny_llm.generate([long]) == tiny_llm.generate([cut])


def test_dtype_resolution():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype(None, "cpu") == torch.float32
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("float8", "cpu")


# ----- the embedded LLM's training ---------------------------------------------------------------
def _example(profile_ids, relevant=()):
    from lampkit.data.layout import Example
    from lampkit.tasks import get_task

    task = get_task("lamp2")
    profile = [{"id": pid, "date": f"2015-01-{i + 1:02d}", "description": f"robot ship film {pid}", "tag": "comedy"}
               for i, pid in enumerate(profile_ids)]
    return Example(id="q1", input=task.make_input(description="a robot on a ship"), profile=profile,
                   output="sci-fi", extra={"relevant_profile_ids": list(relevant)})


def test_select_items_strategies():
    import numpy as np

    from lampkit.llm.recipe import _Rankers, relevant_indices, select_items
    from lampkit.retrievers.bm25 import BM25
    from lampkit.retrievers.simple import Recency
    from lampkit.tasks import get_task

    task = get_task("lamp2")
    ex = _example([f"p{i}" for i in range(10)], relevant=["p3", "p7"])
    rng, rankers = np.random.default_rng(0), _Rankers()
    assert relevant_indices(ex) == [3, 7]
    assert select_items("none", 4, task, ex, ("lamp2", 0), rng, rankers) == []
    assert select_items("recent", 4, task, ex, ("lamp2", 0), rng, rankers) == [9, 8, 7, 6]
    assert select_items("recent", 4, task, ex, ("lamp2", 0), rng, rankers) == list(Recency().rank(task, ex).top(4))
    assert select_items("bm25", 3, task, ex, ("lamp2", 0), rng, rankers) == list(BM25().rank(task, ex).top(3))
    for _ in range(20):
        chosen = select_items("relevant", 4, task, ex, ("lamp2", 0), rng, rankers)
        assert len(chosen) == len(set(chosen)) == 4 and {3, 7} & set(chosen)
        chosen = select_items("random", 3, task, ex, ("lamp2", 0), rng, rankers)
        assert len(set(chosen)) == 3 and all(0 <= j < 10 for j in chosen)
    assert len(select_items("random", 4, task, _example(["a", "b"]), ("lamp2", 1), rng, rankers)) == 2
    with pytest.raises(ValueError, match="unknown strategy"):
        select_items("oracle", 4, task, ex, ("lamp2", 0), rng, rankers)


def test_positional_heads_start_on_the_neighbours():
    config = TrainConfig(d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=1, num_decoder_layers=1,
                         positional_bias=3.0)
    model = build_model(config, 50)
    enc = model.encoder.block[0].layer[0].SelfAttention.compute_bias(5, 5)[0]  # [heads, query, key]
    q, k = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    for head, wanted in enumerate((k == q - 1, k == q + 1, k < q, k > q)):
        assert torch.equal(enc[head], torch.where(wanted, 3.0, -3.0))
    dec = model.decoder.block[0].layer[0].SelfAttention.compute_bias(4, 4)[0]
    q, k = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    assert torch.equal(dec[0], torch.where(k == q - 1, 3.0, -3.0))
    assert dec[1].abs().max() < 1.0  # other heads keep their random start
    plain = build_model(dataclasses.replace(config, positional_bias=0.0), 50)
    assert plain.encoder.block[0].layer[0].SelfAttention.compute_bias(5, 5).abs().max() < 1.0


@pytest.fixture(scope="module")
def quick_models(tmp_path_factory, monkeypatch_module):
    """The quick configuration trained twice with the same seed on the tiny mini-LaMP."""
    dirs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(f"quick_{name}")
        train_small_llm(out, scale="tiny", seed=3, config=TrainConfig.quick(), tasks="lamp3,lamp7",
                        command="test", log=None)
        dirs.append(out)
    return dirs


def test_quick_training_saves_a_loadable_model_with_its_card(quick_models):
    out = quick_models[0]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
                 "training.json"):
        assert (out / name).is_file(), name
    llm = Seq2SeqLLM.load(out, device="cpu", beams=2, max_new_tokens=8)
    outputs = llm.generate(["Paraphrase the following tweet without any explanation before or after it: hi"])
    assert len(outputs) == 1 and isinstance(outputs[0], str)
    record = json.loads((out / "training.json").read_text())
    config = TrainConfig.quick()
    assert record["seed"] == 3 and record["command"] == "test"
    assert record["config"]["steps"] == config.steps and record["config"]["d_model"] == config.d_model
    assert [e["step"] for e in record["log"]] == [8, 16, 24]
    assert set(record["data"]["train_examples"]) == {"lamp3", "lamp7"}
    assert set(record["data"]["fingerprints"]) == {str(s) for s in config.data_seeds}
    assert set(record["dev"]["metrics"]) == {"lamp3", "lamp7"}
    assert set(record["dev"]["metrics"]["lamp3"]["bm25"]) == {"mae", "rmse"}
    card = (out / "README.md").read_text()
    assert "test" in card and record["data"]["fingerprints"]["1"] in card
    n_params = sum(t.numel() for t in load_file(out / "model.safetensors").values())
    assert record["parameters"] >= n_params > 0  # tied embeddings are saved once


def test_same_seed_gives_identical_weights(quick_models):
    a, b = quick_models
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    assert (a / "training.json").read_bytes() == (b / "training.json").read_bytes()
    assert Seq2SeqLLM.load(a, device="cpu").model_id == Seq2SeqLLM.load(b, device="cpu").model_id


def test_training_refuses_the_evaluation_users(tmp_path):
    with pytest.raises(ValueError, match="evaluation seed"):
        train_small_llm(tmp_path, scale="tiny", config=TrainConfig.quick(), data_seeds=(0, 1), eval_seed=0, log=None)


def test_model_for_task_resolves_per_task_folders(tmp_path):
    from lampkit.llm.seq2seq import model_for_task

    single = tmp_path / "single"
    single.mkdir()
    (single / "config.json").write_text("{}")
    assert model_for_task(single, "lamp2") == str(single)
    assert model_for_task("google/flan-t5-xxl", "lamp2") == "google/flan-t5-xxl"
    family = tmp_path / "family"
    (family / "lamp2").mkdir(parents=True)
    (family / "lamp2" / "config.json").write_text("{}")
    assert model_for_task(family, "lamp2") == str(family / "lamp2")
    with pytest.raises(FileNotFoundError, match="lamp5"):
        model_for_task(family, "lamp5")
    with pytest.raises(ValueError, match="name the task"):
        model_for_task(family, None)


def test_cli_trains_one_model_per_task(tmp_path, monkeypatch):
    from lampkit.cli import main
    from lampkit.pipeline import get_llm

    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "family"
    assert main(["llm", "train", "--out", str(out), "--per-task", "--task", "lamp2,lamp3", "--scale", "tiny",
                 "--quick", "--steps", "6"]) == 0
    for name in ("lamp2", "lamp3"):
        record = json.loads((out / name / "training.json").read_text())
        assert record["command"].endswith("--per-task --quick") and record["config"]["steps"] == 6
        assert list(record["dev"]["metrics"]) == [name]
        assert get_llm(str(out), 2, name).model_id == Seq2SeqLLM.load(out / name).model_id
    card = (out / "README.md").read_text()
    assert "| lamp2 |" in card and "| lamp3 |" in card and not (out / "lamp1").exists()


def test_reader_heads_see_copies_and_reference_numbers_and_stay_fixed(tmp_path):
    """The found head writes ~4 on a token that occurs elsewhere in the prompt and ~0 on one that does not;
    the marker head sends the words of reference [2] to the digit 2; training leaves both as initialised."""
    import torch

    from lampkit.llm.small_t5 import FOUND_HEAD, MARKER_HEAD, reader_head_parameters

    texts = ["alpha beta gamma delta [1] [2] 1 2 . : \" ,"] * 3
    tok = build_tokenizer(texts, 200)
    config = TrainConfig(reader_heads=True, steps=2, batch_size=2, data_seeds=(1,), warmup_steps=1, vocab_size=200,
                         log_every=1)
    torch.manual_seed(0)
    model = build_model(config, len(tok), [tok.convert_tokens_to_ids(t) for t in ("1", "2")])
    model.config._attn_implementation = "eager"
    model.encoder.config._attn_implementation = "eager"
    enc = tok(["alpha beta [1]: alpha [2]: gamma delta"], return_tensors="pt")
    toks = tok.convert_ids_to_tokens(enc["input_ids"][0])
    seen = {}
    model.encoder.block[0].layer[0].register_forward_hook(lambda m, i, o: seen.__setitem__("h", o[0][0]))
    with torch.no_grad():
        out = model.encoder(**enc, output_attentions=True)
    found = seen["h"][:, model.config.d_model - 3]
    where = {t: i for i, t in enumerate(toks)}
    assert found[where["▁gamma"]] < 0.5 and found[where["▁delta"]] < 0.5
    assert found[toks.index("▁alpha")] > 3.5 and found[len(toks) - 1 - toks[::-1].index("▁alpha")] > 3.5
    marker = out.attentions[0][0, MARKER_HEAD]
    two = len(toks) - 1 - toks[::-1].index("2")
    assert int(marker[where["▁delta"]].argmax()) == two
    # a couple of training steps on tiny mini-LaMP LaMP-1 leave them as they started
    out_dir = train_small_llm(tmp_path / "m", scale="tiny", tasks="lamp1", evaluate=False, log=None,
                              config=config, data_seeds=(1,))
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    trained_tok = AutoTokenizer.from_pretrained(out_dir)
    torch.manual_seed(0)  # train_small_llm's seed
    start = build_model(config, len(trained_tok), [trained_tok.convert_tokens_to_ids(t) for t in ("1", "2")])
    trained = AutoModelForSeq2SeqLM.from_pretrained(out_dir)
    params = dict(trained.named_parameters())
    names = {id(p): n for n, p in start.named_parameters()}
    kept = reader_head_parameters(start)
    assert len(kept) == 11
    for param, mask, values in kept:
        assert torch.equal(params[names[id(param)]].detach()[mask], values)
    moved = params["encoder.block.0.layer.0.SelfAttention.q.weight"].detach()[: FOUND_HEAD * 16]
    assert not torch.equal(moved, start.encoder.block[0].layer[0].SelfAttention.q.weight.detach()[: FOUND_HEAD * 16])
