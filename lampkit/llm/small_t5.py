"""The embedded default LLM's model: a small T5 built from scratch (its recipe: :mod:`lampkit.llm.recipe`).

The tokenizer is a BPE over whitespace-separated words with punctuation split off
(``tokenizers``), trained on the training text with every printable ASCII character in its
alphabet so that any ASCII text round-trips; it is saved as a ``PreTrainedTokenizerFast`` next
to the model, so ``AutoTokenizer`` and ``AutoModelForSeq2SeqLM`` load the folder as they load
FLAN-T5.

The model is a T5 (relative position buckets, RMS norm, tied embeddings) small enough to train
on two CPU cores in well under an hour; a few attention heads start with a positional role (see
:func:`init_positional_heads`), without which such a small T5 takes far longer to learn to copy
from its input; optional reader heads (:func:`init_reader_heads`) start with the role of
finding the profile entries. :class:`TrainConfig` holds the architecture and the training
settings.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

__all__ = ["STRATEGIES", "TrainConfig", "build_tokenizer", "build_model", "init_reader_heads",
           "reader_head_parameters", "init_positional_heads"]

STRATEGIES: tuple[str, ...] = ("none", "random", "recent", "bm25", "relevant")
RELEVANT_KEY = "relevant_profile_ids"  # Example.extra key: ids of the profile items behind the output
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the embedded LLM (model shape, optimisation, prompt mix)."""

    steps: int = 1000
    batch_size: int = 16
    data_seeds: tuple[int, ...] = (1, 2, 3, 4)  # mini-LaMP builds to train on (not the eval seed)
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    vocab_size: int = 4000
    d_model: int = 128
    d_ff: int = 384
    d_kv: int = 16
    num_heads: int = 8
    num_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.0
    feed_forward: str = "gated-silu"  # T5Config.feed_forward_proj
    positional_bias: float = 4.0  # start of the neighbour heads' bias (0: plain T5 initialisation)
    bf16: bool = True  # bfloat16 autocast of the forward pass on the CPU (weights stay float32)
    max_input_length: int = 512  # prompt budget, as in evaluation
    max_target_length: int = 32
    k_max: int = 4
    strategy_weights: tuple[float, ...] = (0.15, 0.15, 0.15, 0.25, 0.30)  # in STRATEGIES order
    log_every: int = 100
    eval_examples: int = 100  # dev inputs per task for the model card's metrics
    eval_beams: int = 4
    threads: int = 1
    reader_heads: bool = False  # two fixed heads that compare the references with the profile (init_reader_heads)

    @classmethod
    def quick(cls) -> "TrainConfig":
        """A few dozen steps of a tiny model: for tests."""
        return cls(steps=24, batch_size=8, data_seeds=(1,), warmup_steps=4, vocab_size=400, d_model=32, d_ff=64, d_kv=8,
                   num_heads=2, num_layers=1, num_decoder_layers=1, max_target_length=16, log_every=8,
                   eval_examples=4, eval_beams=2, threads=1)

    def __post_init__(self) -> None:
        if len(self.strategy_weights) != len(STRATEGIES) or min(self.strategy_weights) < 0:
            raise ValueError(f"strategy_weights needs {len(STRATEGIES)} non-negative weights ({STRATEGIES})")
        if self.steps < 1 or self.batch_size < 1 or self.k_max < 1:
            raise ValueError("steps, batch_size and k_max must be at least 1")


# ----- tokenizer and model ---------------------------------------------------------------------
def build_tokenizer(texts: Iterable[str], vocab_size: int):
    """A BPE tokenizer over words and punctuation, trained on ``texts``, as PreTrainedTokenizerFast.

    Ids 0, 1, 2 are ``<pad>``, ``</s>`` (appended to every encoded text) and ``<unk>``; the
    alphabet holds every printable ASCII character, so ASCII text decodes back to itself up to
    runs of whitespace.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    alphabet = sorted(set(string.printable) - set(string.whitespace))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=alphabet, min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def build_model(config: TrainConfig, vocab_size: int, marker_ids: Sequence[int] = ()):
    """A T5 with tied embeddings, ``config.feed_forward`` and positional heads (:func:`init_positional_heads`);
    with ``config.reader_heads`` also the found and marker heads (:func:`init_reader_heads`, which needs
    the token ids of the reference markers, ``marker_ids``)."""
    from transformers import T5Config, T5ForConditionalGeneration

    t5 = T5Config(vocab_size=vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
                  num_layers=config.num_layers, num_decoder_layers=config.num_decoder_layers,
                  num_heads=config.num_heads, dropout_rate=config.dropout, feed_forward_proj=config.feed_forward,
                  tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    model = T5ForConditionalGeneration(t5)
    init_positional_heads(model, config.positional_bias)
    if config.reader_heads:
        init_reader_heads(model, marker_ids)
    return model


def _relative_offsets(attention, bidirectional: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Every relative offset within the attention's maximum distance, and T5's bucket of each."""
    offsets = torch.arange(-attention.relative_attention_max_distance, attention.relative_attention_max_distance + 1)
    buckets = attention._relative_position_bucket(
        offsets, bidirectional=bidirectional, num_buckets=attention.relative_attention_num_buckets,
        max_distance=attention.relative_attention_max_distance)
    return offsets, buckets


# the reader heads' reserved coordinates of the residual stream, counted from its end
_CONSTANT, _SINK, _FOUND, _MARKER = 1, 2, 3, 4
FOUND_HEAD, MARKER_HEAD = 5, 6  # encoder heads of the first block (after the positional heads 0-4)


def init_reader_heads(model, marker_ids: Sequence[int], seed: int = 1234) -> None:
    """Give the encoder's first block two heads that LaMP-1's reading needs and that a small model,
    trained from scratch, does not find on its own (measured: 1,000 steps, even on prompts whose
    entries always back the gold, left it at chance; with them it reads the profile).

    - *found* (head 5): does this token occur anywhere else in the prompt? Its query and key
      project every token onto the same 15 coordinates of its embedding (set to one norm for every
      token), so a token meets its own copies with a score above a *sink*: every query also
      scores a fixed amount against the end-of-input token ``</s>``, which wins when the token
      has no copy. The value is 1 for every token but ``</s>`` (0), so the head writes "found"
      (about 4) or "not found" (about 0) into one reserved coordinate of the residual stream.
    - *marker* (head 6): which numbered reference is this token in? Every token looks at the
      nearest digit token among ``marker_ids`` ("1", "2") before it (a bias that falls with the
      distance) and copies part of its embedding.

    What to do with the two (that a reference's words were found in the profile entries, that
    they belong to reference [1]) is left to training. The coordinates these heads use are
    returned by :func:`reader_head_parameters` and kept fixed during training.
    """
    import math

    emb = model.shared.weight
    d = emb.shape[1]
    att = model.encoder.block[0].layer[0].SelfAttention
    dk = att.key_value_proj_dim
    if att.n_heads <= MARKER_HEAD or d < 2 * dk + 8:
        raise ValueError(f"reader heads need at least {MARKER_HEAD + 1} heads and d_model >= {2 * dk + 8}")
    m = dk - 1
    const, sink_dim, found, marker = (d - i for i in (_CONSTANT, _SINK, _FOUND, _MARKER))
    free = d - 4  # coordinates [0, free) are ordinary
    eos = model.config.eos_token_id
    generator = torch.Generator().manual_seed(seed)
    offsets, buckets = _relative_offsets(att, bidirectional=True)
    q, k, v, o = att.q.weight, att.k.weight, att.v.weight, att.o.weight
    bias = att.relative_attention_bias.weight
    with torch.no_grad():
        emb.normal_(0.0, 1.0, generator=generator)
        emb[:, :m] *= math.sqrt(m) / emb[:, :m].norm(dim=1, keepdim=True)
        rest = emb[:, m:free]
        rest *= math.sqrt(rest.shape[1]) / rest.norm(dim=1, keepdim=True)
        emb[:, free:] = 0.0
        emb[:, const] = 1.0
        emb[eos, const] = 0.0
        emb[eos, sink_dim] = 1.0
        emb[eos, :m] = 0.0
        emb[eos, m:free] *= math.sqrt(free / (free - m))  # keeps the norm of the zeroed coordinates
        for t in marker_ids:
            emb[t, marker] = 1.0
        # found: copies score 8 * 15 = 120, the sink 0.88 of that, unrelated tokens about 0 +- 31
        rows = slice(FOUND_HEAD * dk, (FOUND_HEAD + 1) * dk)
        q[rows] = 0.0
        k[rows] = 0.0
        v[rows] = 0.0
        o[:, rows] = 0.0
        o[found, :] = 0.0
        alpha2 = 8.0
        for i in range(m):
            q[rows.start + i, i] = math.sqrt(alpha2)
            k[rows.start + i, i] = math.sqrt(alpha2)
        sink = math.sqrt(0.88 * alpha2 * m)
        q[rows.start + m, const] = sink
        k[rows.start + m, sink_dim] = sink
        v[rows.start, const] = 1.0
        o[found, rows.start] = 4.0
        bias[:, FOUND_HEAD] = 0.0
        bias[buckets[offsets == 0].unique(), FOUND_HEAD] = -60.0  # not the token itself
        # marker: the nearest digit before the token; copies 16 coordinates of its embedding
        rows = slice(MARKER_HEAD * dk, (MARKER_HEAD + 1) * dk)
        q[rows] = 0.0
        k[rows] = 0.0
        v[rows] = 0.0
        o[:, rows] = 0.0
        q[rows.start, const] = math.sqrt(30.0)
        k[rows.start, marker] = math.sqrt(30.0)
        basis, _ = torch.linalg.qr(torch.randn(free, dk, generator=generator))
        v[rows, :free] = basis.T
        o[:free, rows] = basis
        bias[:, MARKER_HEAD] = -60.0
        for off, b in zip(offsets.tolist(), buckets.tolist()):
            if off < 0:
                bias[b, MARKER_HEAD] = -3.0 * math.log2(-off)


def reader_head_parameters(model) -> list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor]]:
    """(parameter, mask, values) of everything :func:`init_reader_heads` set that training must keep:
    the two heads' projections and position biases, and the embedding coordinates they read."""
    emb = model.shared.weight
    d = emb.shape[1]
    att = model.encoder.block[0].layer[0].SelfAttention
    dk = att.key_value_proj_dim
    kept = []

    def keep(param, index) -> None:
        mask = torch.zeros_like(param, dtype=torch.bool)
        mask[index] = True
        kept.append((param, mask, param.detach()[mask].clone()))

    keep(emb, (slice(None), list(range(dk - 1)) + [d - i for i in (_CONSTANT, _SINK, _FOUND, _MARKER)]))
    for head in (FOUND_HEAD, MARKER_HEAD):
        rows = slice(head * dk, (head + 1) * dk)
        for w in (att.q.weight, att.k.weight, att.v.weight):
            keep(w, (rows, slice(None)))
        keep(att.o.weight, (slice(None), rows))
        keep(att.relative_attention_bias.weight, (slice(None), head))
    return kept


def init_positional_heads(model, strength: float) -> None:
    """Start a few attention heads with a positional or matching role (bias +-``strength``).

    T5 learns positions only through a per-head bias over relative-distance buckets, initialised
    near zero; from there a small model takes thousands of steps to find the heads that look at a
    word's neighbours, which copying a span of the input needs. Here the encoder's heads 0 and 1
    start looking at the previous and the next token, heads 2 and 3 at everything before and
    everything after (a summary of the context on each side), head 4 at earlier occurrences of the
    same token (its query and key project onto one shared random subspace, so a token meets its
    own copies; the bias hides the token itself and what follows it: does this word of a
    reference appear in the profile above?), and the decoder's head 0 at its previous token;
    every other head keeps its random start. All of them stay trainable.
    """
    if strength <= 0:
        return
    roles_by_stack = ((model.encoder, ("previous", "next", "before", "after", "match")), (model.decoder, ("previous",)))
    for stack, roles in roles_by_stack:
        attention = stack.block[0].layer[0].SelfAttention
        weight = attention.relative_attention_bias.weight  # [buckets, heads]
        offsets, buckets = _relative_offsets(attention, bidirectional=not attention.is_decoder)
        wanted = {"previous": offsets == -1, "next": offsets == 1, "before": offsets < 0, "after": offsets > 0,
                  "match": offsets < 0}
        with torch.no_grad():
            for head, role in enumerate(roles[: weight.shape[1]]):
                weight[:, head] = -strength * (3.0 if role == "match" else 1.0)
                weight[buckets[wanted[role]].unique(), head] = 0.0 if role == "match" else strength
                if role == "match":
                    d_kv = attention.key_value_proj_dim
                    rows = slice(head * d_kv, (head + 1) * d_kv)
                    generator = torch.Generator().manual_seed(head)
                    basis, _ = torch.linalg.qr(torch.randn(attention.d_model, d_kv, generator=generator))
                    attention.q.weight[rows] = basis.T
                    attention.k.weight[rows] = basis.T
