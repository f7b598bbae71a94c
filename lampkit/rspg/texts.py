"""What RSPG's selector reads for one input and one retriever (paper section 5.2).

- :func:`selector_text`: the whole text the ``linear`` head's encoder reads, the prompt (and for
  RSPG-Post the LLM's output) rebuilt for the selector's window so that the whole input stays inside;
  :func:`input_coverage` measures how often it does;
- :class:`SelectorParts`: the parts the ``interaction`` head embeds apart (the input, each retrieved
  entry's text, for RSPG-Post the outputs; :func:`entry_texts`); :func:`input_fits` measures how often
  the whole input fits the window.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

from lampkit.tasks import HFTokenCounter, PromptBudgetError, Task

__all__ = ["OUTPUT_SHARE", "selector_text", "input_coverage", "input_fits", "SelectorParts", "entry_texts"]


OUTPUT_SHARE = 0.25  # RSPG-Post: the most of the selector's window the LLM's output may take


class _KeepWhole(HFTokenCounter):
    """A token counter that hands a text back unchanged when it fits (no decode round trip, which
    would drop unknown tokens and lowercase for an uncased tokenizer), and cuts it otherwise."""

    def truncate(self, text: str, max_ids: int) -> tuple[str, int]:
        n = self.count(text)
        if n <= max_ids:
            return text, n
        return super().truncate(text, max_ids)


def selector_text(task: Task, inp: str, items: Sequence[Mapping[str, object]], tokenizer, max_length: int,
                  output: str | None = None, output_share: float = OUTPUT_SHARE) -> str:
    """RSPG's text for one input and one retriever's items, fitted to ``max_length`` tokens of ``tokenizer``.

    The paper's selector reads the prompt (RSPG-Pre), or the prompt followed by the LLM's output
    (RSPG-Post), in a window of 1,024 tokens that holds them whole. A shorter window cannot, so the
    text is rebuilt for it part by part rather than cut at its end (where the task's input stands):

    1. the whole input (never cut; only an input longer than the window by itself overflows it);
    2. for Post, the LLM's ``output``, cut to at most ``output_share`` of the window;
    3. the retrieved entries share what is left evenly, unused tokens rolling over to the next
       entry (:meth:`lampkit.tasks.Task.fit_prompt`, the LLM prompt's construction); when the
       rest cannot hold every entry's template, the lowest-ranked entries are left out.

    Each piece is counted with its tokenizer's special tokens, which leaves room for the
    punctuation joining the pieces; :func:`input_coverage` measures what the window really holds.
    A piece that fits is kept as written, a longer one is cut at a token boundary.
    """
    counter = _KeepWhole(tokenizer)
    window = max_length
    suffix = ""
    if output is not None:
        cap = max(counter.n_special + 1, int(output_share * max_length))
        text, used = counter.truncate(output, cap)
        window -= used
        suffix = f" {text}"
    budget = window - counter.count(inp)
    for n in range(len(items), 0, -1):
        try:
            return task.fit_prompt(inp, items[:n], budget, counter) + suffix
        except PromptBudgetError:
            continue
    return inp + suffix


def _is_subsequence(needle: Sequence[int], hay: Sequence[int]) -> bool:
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)


def input_coverage(texts: Sequence[str], inputs: Sequence[str], tokenizer, max_length: int) -> float:
    """Share of ``texts`` whose ``inputs`` lie whole inside the window the selector reads.

    An input is inside when its tokens appear, in order, among the first ``max_length`` tokens
    of its text (in order rather than contiguous: LaMP-1 splices the entries into the input).
    """
    if len(texts) != len(inputs):
        raise ValueError(f"{len(texts)} texts but {len(inputs)} inputs")
    if not texts:
        raise ValueError("no texts")
    inside = 0
    for text, inp in zip(texts, inputs):
        kept = tokenizer(text, max_length=max_length, truncation=True)["input_ids"]
        inside += _is_subsequence(tokenizer(inp, add_special_tokens=False)["input_ids"], kept)
    return inside / len(texts)


def input_fits(inputs: Sequence[str], tokenizer, max_length: int) -> float:
    """Share of ``inputs`` that fit whole in ``max_length`` tokens of ``tokenizer`` (its special tokens counted).

    The coverage of the interaction head, which embeds each input alone, truncated to ``max_length``.
    """
    if not inputs:
        raise ValueError("no inputs")
    return sum(len(tokenizer(inp)["input_ids"]) <= max_length for inp in inputs) / len(inputs)


class SelectorParts(NamedTuple):
    """One input as the interaction head reads it: the ``input``, per retriever of the pool the texts
    of its retrieved ``entries`` (:func:`entry_texts`; none for no personalization), and for
    RSPG-Post per retriever the LLM's ``outputs`` (None for RSPG-Pre)."""

    input: str
    entries: tuple[tuple[str, ...], ...]
    outputs: tuple[str, ...] | None = None

    def key(self) -> list:
        """The content, as JSON-ready lists (the artifact cache's key)."""
        return [self.input, [list(e) for e in self.entries], None if self.outputs is None else list(self.outputs)]


def entry_texts(task: Task, items: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    """Each item's entry as the prompt writes it (:meth:`lampkit.tasks.Task.entry`), uncut."""
    return tuple(task.entry(item) for item in items)
