"""The generator G: a small seq2seq model trained to finish a passage in its author's voice.

Its input holds the sections of Li et al.'s generation stage, each after its prefix, in this order:
``passage start`` (the immediate context), ``summary``, ``important words`` (the key elements)
and ``past passages`` (the ranked entries), after the instruction "Finish the passage in the user
voice"; a configuration leaves out the sections it does not use. The output is the rest of the
document. The multitask variant adds the author-distinction task: "Predict whether two passages
are from the same author", answered "true" or "false"; its pairs are half of each label and
every optimisation step holds as many of them as generation inputs (mixed 1:1), and the step
follows the sum of both tasks' losses.

The model is a T5 built from scratch with lampkit's small-T5 recipe
(:func:`lampkit.llm.small_t5.build_tokenizer`, :func:`lampkit.llm.small_t5.build_model`: a BPE over
words, positional heads at initialisation), trained with AdamW, linear warm-up and cosine decay,
saved with ``save_pretrained`` (safetensors) and loaded back as a :class:`lampkit.llm.seq2seq.Seq2SeqLLM`
that decodes greedily. Training is deterministic for a given seed and thread count.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from lampkit.retrievers.encoders import quiet_loading, folder_id
from lampkit.llm.recipe import warmup_cosine
from lampkit.llm.small_t5 import build_model, build_tokenizer
from lampkit.longform.config import GeneratorConfig  # (importable from here too)
from lampkit.longform.data import Document

__all__ = ["INSTRUCTION", "AUTHOR_INSTRUCTION", "SECTIONS", "build_input", "author_input",
           "author_pairs", "train_generator", "load_generator"]

INSTRUCTION = "Finish the passage in the user voice"
AUTHOR_INSTRUCTION = "Predict whether two passages are from the same author"
SECTIONS: tuple[str, ...] = ("passage start", "summary", "important words", "past passages")
LABELS = ("true", "false")


def build_input(context: str, summary: str | None = None, keywords: Sequence[str] | None = None,
                passages: str | None = None) -> str:
    """The generator's input: the instruction, then each given section after its prefix."""
    parts = [f"{INSTRUCTION}. {SECTIONS[0]}: {context}"]
    if summary is not None:
        parts.append(f"{SECTIONS[1]}: {summary}")
    if keywords is not None:
        parts.append(f"{SECTIONS[2]}: {', '.join(keywords)}")
    if passages is not None:
        parts.append(f"{SECTIONS[3]}: {passages}")
    return " ".join(parts)


def author_input(first: str, second: str) -> str:
    """The author-distinction input for two passages."""
    return f"{AUTHOR_INSTRUCTION}. passage 1: {first} passage 2: {second}"


def author_pairs(docs: Sequence[Document], n: int, seed: int = 0,
                 max_chars: int = 300) -> list[tuple[str, str]]:
    """``n`` author-distinction examples (input, label): ``n // 2`` same-author pairs labelled
    "true" and ``n - n // 2`` pairs of two authors labelled "false", shuffled.

    Same-author pairs take two different documents of an author with at least two; each
    passage is cut at ``max_chars`` characters. Needs at least two authors.
    """
    by_author: dict[str, list[Document]] = {}
    for d in docs:
        by_author.setdefault(d.author, []).append(d)
    authors = list(by_author)
    multi = [a for a in authors if len(by_author[a]) >= 2]
    if len(authors) < 2 or not multi:
        raise ValueError("author-distinction pairs need two authors and one author with two documents")
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i < n // 2:
            a, b = rng.sample(by_author[rng.choice(multi)], 2)
            label = "true"
        else:
            x, y = rng.sample(authors, 2)
            a, b = rng.choice(by_author[x]), rng.choice(by_author[y])
            label = "false"
        out.append((author_input(a.text[:max_chars], b.text[:max_chars]), label))
    rng.shuffle(out)
    return out


def _batches(n: int, config: GeneratorConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of the examples of every step: fresh random order each epoch."""
    order: list[int] = []
    out = []
    for _ in range(config.steps):
        while len(order) < config.batch_size:
            order += [int(i) for i in rng.permutation(n)]
        out.append(np.asarray(order[:config.batch_size]))
        order = order[config.batch_size:]
    return out


def _start(config: GeneratorConfig, texts: Sequence[str], init: str | Path | None, seed: int):
    """(tokenizer, model): fresh ones (a BPE trained on ``texts``, a T5 of ``config``'s shape) or
    those saved in ``init`` (a generator to fine-tune)."""
    if init is not None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(str(init), local_files_only=True)
            model = AutoModelForSeq2SeqLM.from_pretrained(str(init), local_files_only=True, use_safetensors=True)
        return tokenizer, model
    tokenizer = build_tokenizer(texts, config.vocab_size)
    torch.manual_seed(seed)
    model = build_model(config.model_config(), len(tokenizer))
    if config.num_decoder_layers != config.num_layers:
        # transformers sizes the key-value cache by the encoder's layer count: decode without it
        model.generation_config.use_cache = False
    return tokenizer, model


def train_generator(out_dir: str | Path, inputs: Sequence[str], targets: Sequence[str],
                    config: GeneratorConfig = GeneratorConfig(), seed: int = 0,
                    aux: Sequence[tuple[str, str]] | None = None, init: str | Path | None = None,
                    log: Callable[[str], None] | None = None) -> Path:
    """Train a generator on (input, target) pairs, with the author-distinction examples ``aux``
    mixed 1:1 when given; save model, tokenizer and ``training.json`` in ``out_dir``.

    ``init``: a saved generator to start from (its tokenizer and weights; ``config``'s model
    shape is then ignored), else a new tokenizer and model are built from ``inputs`` and ``targets``.
    """
    if len(inputs) != len(targets) or not inputs:
        raise ValueError("need as many targets as inputs, and at least one")
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        aux = list(aux or [])
        texts = list(inputs) + list(targets) + [a for a, _ in aux] + list(LABELS)
        tokenizer, model = _start(config, texts, init, seed)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        plans = [(list(inputs), list(targets), _batches(len(inputs), config, rng))]
        if aux:
            plans.append(([a for a, _ in aux], [b for _, b in aux], _batches(len(aux), config, rng)))
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        model.train()
        losses: list[list[float]] = [[] for _ in plans]
        for step in range(config.steps):
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine(step, config.lr, config.warmup_steps, config.steps)
            optimizer.zero_grad(set_to_none=True)
            for p, (xs, ys, batches) in enumerate(plans):
                idx = batches[step]
                enc = tokenizer([xs[i] for i in idx], max_length=config.max_input_tokens, truncation=True,
                                padding=True, return_tensors="pt")
                labels = tokenizer([ys[i] for i in idx], max_length=config.max_target_tokens, truncation=True,
                                   padding=True, return_tensors="pt")["input_ids"]
                labels[labels == tokenizer.pad_token_id] = -100
                loss = model(**enc, labels=labels).loss
                loss.backward()  # the tasks' losses add up: generation learns as fast as without the other
                losses[p].append(float(loss.detach()))
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            if log and ((step + 1) % 50 == 0 or step + 1 == config.steps):
                log(f"step {step + 1}: " + ", ".join(f"{np.mean(ls[-50:]):.3f}" for ls in losses))
        model.eval()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with quiet_loading():
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
    finally:
        torch.set_num_threads(threads)
    every = max(1, config.steps // 20)
    record = {"seed": seed, "config": dataclasses.asdict(config), "init": folder_id(init) if init else None,
              "train_inputs": len(inputs), "author_pairs": len(aux),
              "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tokenizer),
              "loss": [{"step": s + 1, **{name: round(float(np.mean(ls[max(0, s + 1 - every):s + 1])), 4)
                                          for name, ls in zip(("generation", "author"), losses)}}
                       for s in range(every - 1, config.steps, every)]}
    (out / "training.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return out


def load_generator(folder: str | Path, config: GeneratorConfig = GeneratorConfig()):
    """A trained generator as a :class:`lampkit.llm.seq2seq.Seq2SeqLLM` (CPU, float32, greedy decoding)."""
    from lampkit.llm.seq2seq import Seq2SeqLLM

    return Seq2SeqLLM.load(folder, device="cpu", dtype="float32", beams=1, max_new_tokens=config.max_target_tokens,
                           max_input_length=config.max_input_tokens)
