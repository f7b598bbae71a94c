"""The ``interaction`` head of RSPG's selector (paper section 5.2; a deviation of the book's preset).

The parts of one (input, retriever) pair are embedded apart by a frozen encoder
(:class:`~lampkit.rspg.texts.SelectorParts`); :class:`InteractionHead` learns how they relate: the
input attends over the retriever's entries, and a two-layer MLP scores the input, the pooled
entries, their product and their difference (with the output, for RSPG-Post). The parts are
indexed once per batch (each distinct text embedded once).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from lampkit.rspg.texts import SelectorParts

__all__ = ["HEAD_HIDDEN", "InteractionHead"]


HEAD_HIDDEN = 128  # the interaction head's projection and hidden width


class InteractionHead(torch.nn.Module):
    """Scores (input, retriever) pairs from frozen embeddings of their parts.

    With ``u`` the input's embedding, ``e_1..e_k`` the retriever's entries' and ``o`` the output's
    (``with_output``): the input queries the entries (``q = W_q u``, keys ``W_k e_j``), the
    softmax over the present entries (``mask``) weighs their values into ``v = sum_j a_j W_v e_j``
    (the zero vector when there are none), and a two-layer MLP (GELU) scores
    ``[u', v, u' * v, |u' - v|]`` with ``u' = W_v u``, followed for Post by
    ``[o', o' * u', o' * v]`` with ``o' = W_v o``.
    """

    def __init__(self, dim: int, with_output: bool = False, hidden: int = HEAD_HIDDEN) -> None:
        super().__init__()
        self.with_output = with_output
        self.query = torch.nn.Linear(dim, hidden)
        self.key = torch.nn.Linear(dim, hidden)
        self.value = torch.nn.Linear(dim, hidden)
        self.mlp = torch.nn.Sequential(torch.nn.Linear((7 if with_output else 4) * hidden, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, 1))

    def forward(self, inputs: torch.Tensor, entries: torch.Tensor, mask: torch.Tensor,
                outputs: torch.Tensor | None = None) -> torch.Tensor:
        """Scores [batch, pool] from ``inputs`` [batch, dim], ``entries`` [batch, pool, k, dim], ``mask``
        [batch, pool, k] (True: an entry) and, with outputs, ``outputs`` [batch, pool, dim]."""
        if (outputs is None) == self.with_output:
            raise ValueError("outputs must be given exactly when the head reads the output (RSPG-Post)")
        q = self.query(inputs)  # [b, h]
        keys, values = self.key(entries), self.value(entries)  # [b, p, k, h]
        att = torch.einsum("bpkh,bh->bpk", keys, q) / math.sqrt(q.shape[-1])
        att = att.masked_fill(~mask, torch.finfo(att.dtype).min)
        weights = torch.softmax(att, dim=-1) * mask  # no entry: all weights 0
        v = torch.einsum("bpk,bpkh->bph", weights, values)
        u = self.value(inputs).unsqueeze(1).expand_as(v)
        features = [u, v, u * v, (u - v).abs()]
        if outputs is not None:
            o = self.value(outputs)
            features += [o, o * u, o * v]
        return self.mlp(torch.cat(features, dim=-1)).squeeze(-1)


class _PartsIndex(NamedTuple):
    """The distinct texts of some :class:`SelectorParts` and, per input, where its parts lie among them."""

    texts: list[str]
    inputs: torch.Tensor  # [n]
    entries: torch.Tensor  # [n, pool, k]
    mask: torch.Tensor  # [n, pool, k]
    outputs: torch.Tensor | None  # [n, pool]


def _parts_pool_size(parts: Sequence[SelectorParts]) -> int:
    """The pool size of ``parts`` (every input one entry list per retriever, outputs on all or none)."""
    if len(parts) == 0:
        raise ValueError("no inputs")
    if not isinstance(parts[0], SelectorParts):
        raise ValueError(f"the interaction head reads SelectorParts, got {type(parts[0]).__name__}")
    pool, post = len(parts[0].entries), parts[0].outputs is not None
    for i, p in enumerate(parts):
        if not isinstance(p, SelectorParts) or len(p.entries) != pool or pool == 0:
            raise ValueError(f"input {i}: expected SelectorParts with {pool} retrievers, got {p!r:.80}")
        if (p.outputs is not None) != post or (post and len(p.outputs) != pool):
            raise ValueError(f"input {i}: expected {'one output per retriever' if post else 'no outputs'}")
    return pool


def _index_parts(parts: Sequence[SelectorParts]) -> _PartsIndex:
    pool = _parts_pool_size(parts)
    where: dict[str, int] = {}

    def at(text: str) -> int:
        return where.setdefault(text, len(where))

    k = max(1, max(len(e) for p in parts for e in p.entries))
    entries = torch.zeros((len(parts), pool, k), dtype=torch.long)
    mask = torch.zeros((len(parts), pool, k), dtype=torch.bool)
    inputs = torch.tensor([at(p.input) for p in parts], dtype=torch.long)
    for i, p in enumerate(parts):
        for j, texts in enumerate(p.entries):
            for m, text in enumerate(texts):
                entries[i, j, m], mask[i, j, m] = at(text), True
    outputs = None
    if parts[0].outputs is not None:
        outputs = torch.tensor([[at(o) for o in p.outputs] for p in parts], dtype=torch.long)
    return _PartsIndex(list(where), inputs, entries, mask, outputs)
