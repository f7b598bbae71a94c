"""The seven LaMP tasks: one registry that holds everything task-specific.

Label sets, metrics, input templates, query extraction, the text a retriever indexes per
profile item, the per-profile-entry prompt (PPEP), the aggregated prompt with its token
budget, and the EVAL used as a training signal all live here
(Salemi et al. section 3, Table 2 and the setup of section 6.2).
No other module of lampkit branches on a task's name.

The prompt construction follows the official LaMP code (``LaMP/prompts/prompts.py``)
with two documented differences: every entry's fixed part is measured on the template
lampkit actually writes (the official code measures a slightly different string for
LaMP-2, LaMP-5 and LaMP-7), and entries carry no trailing space (the strings of the paper's Table 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

__all__ = [
    "direction",
    "LAMP2_TAGS",
    "TASK_NAMES",
    "Task",
    "TokenCounter",
    "WhitespaceCounter",
    "HFTokenCounter",
    "PromptBudgetError",
    "PROMPT_TOKENS",
    "get_task",
    "all_tasks",
    "resolve_tasks",
]

LAMP2_TAGS: tuple[str, ...] = (
    "sci-fi", "based on a book", "comedy", "action", "twist ending", "dystopia", "dark comedy",
    "classic", "psychology", "fantasy", "romance", "thought-provoking", "social commentary",
    "violence", "true story",
)

#: the prompt's budget in tokens: the input and the profile entries are fitted to it (Task.build_prompt)
PROMPT_TOKENS = 512

_INPUT_TEMPLATES = {
    1: 'For an author who has written the paper with the title "{title}", which reference is related? '
       'Just answer with [1] or [2] without explanation. [1]: "{ref1}" [2]: "{ref2}"',
    2: "Which tag does this movie relate to among the following tags? Just answer with the tag name "
       "without further explanation. tags: [" + ", ".join(LAMP2_TAGS) + "] description: {description}",
    3: "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 "
       "without further explanation. review: {text}",
    4: "Generate a headline for the following article: {text}",
    5: "Generate a title for the following abstract of a paper: {abstract}",
    6: "Generate a subject for the following email: {text}",
    7: "Paraphrase the following tweet without any explanation before or after it: {text}",
}


class PromptBudgetError(ValueError):
    """An entry's share of the token budget cannot hold even its fixed part."""


class TokenCounter(Protocol):
    """What prompt construction needs from a tokenizer."""

    def count(self, text: str) -> int:
        """Number of ids for ``text``, special tokens included (``len(tokenizer(text).input_ids)``)."""

    def truncate(self, text: str, max_ids: int) -> tuple[str, int]:
        """``text`` cut to ``max_ids`` ids (specials included): the decoded text and the id count."""


class WhitespaceCounter:
    """Whitespace tokens plus one end-of-sequence id, like a T5 tokenizer's ``</s>``.

    Used to show prompts before any LLM is loaded; chapters that run an LLM use its tokenizer.
    """

    n_special = 1

    def count(self, text: str) -> int:
        return len(text.split()) + self.n_special

    def truncate(self, text: str, max_ids: int) -> tuple[str, int]:
        if max_ids < self.n_special:
            raise PromptBudgetError(f"budget of {max_ids} ids cannot hold the end-of-sequence id")
        words = text.split()[: max_ids - self.n_special]
        return " ".join(words), len(words) + self.n_special


class HFTokenCounter:
    """Adapter for a Hugging Face tokenizer (``tokenizer(text, max_length=..., truncation=True)``)."""

    _MEMO = 200_000  # texts whose counts are kept (a profile item is counted in many prompts)

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.n_special = len(tokenizer("")["input_ids"])
        self._counts: dict[str, int] = {}

    def count(self, text: str) -> int:
        n = self._counts.get(text)
        if n is None:
            if len(self._counts) >= self._MEMO:
                self._counts.clear()
            n = self._counts[text] = len(self.tokenizer(text)["input_ids"])
        return n

    def truncate(self, text: str, max_ids: int) -> tuple[str, int]:
        if max_ids < max(self.n_special, 1):
            raise PromptBudgetError(f"budget of {max_ids} ids cannot hold the special tokens")
        ids = self.tokenizer(text, max_length=max_ids, truncation=True)["input_ids"]
        return self.tokenizer.decode(ids, skip_special_tokens=True), len(ids)


def _after(marker: str) -> Callable[[str], str | None]:
    def extract(text: str) -> str | None:
        i = text.find(marker)
        if i == -1:
            return None
        return text[i + len(marker):].strip()

    extract.__doc__ = f"Text after the first {marker!r}, stripped; None when absent."
    return extract


def _quoted(text: str) -> list[str]:
    """Strings between pairs of double quotes, in order (the official extraction)."""
    out, cur, inside = [], [], False
    for ch in text:
        if ch == '"':
            if inside:
                out.append("".join(cur))
                cur = []
            inside = not inside
        elif inside:
            cur.append(ch)
    return out


def _lamp1_query(text: str) -> str | None:
    quoted = _quoted(text)
    if len(quoted) < 3:
        return None
    return f"{quoted[1]} {quoted[2]}"


def _splice_after_title(inp: str, joined: str) -> str:
    i = inp.find("title")
    if i == -1:
        return inp
    return inp[: i + 5] + ", and " + joined + inp[i + 5:]


def direction(higher_is_better: bool) -> float:
    """The sign that turns a metric into a score to maximise: +1.0 if higher is better, else -1.0."""
    return 1.0 if higher_is_better else -1.0


@dataclass(frozen=True)
class Task:
    """Everything that makes one LaMP task what it is."""

    name: str
    number: int
    title: str
    kind: str  # "classification", "rating" or "generation"
    profile_fields: tuple[str, ...]
    metrics: tuple[str, ...]
    labels: tuple[str, ...] | None
    index_fields: tuple[str, ...]
    content_field: str  # the field of a profile item that the budget truncates
    entry_template: str  # PPEP; "{content}" is the truncated content field
    _query: Callable[[str], str | None] = field(repr=False, compare=False)
    _aggregate: Callable[[str, str], str] = field(repr=False, compare=False)
    fixed_suffix: str = ""  # text the aggregate adds besides entries and input (budgeted)
    end_token_reserved: bool = True  # the official code reserves one id (all tasks but LaMP-1)

    # ----- identity and layout -------------------------------------------------------
    @property
    def official(self) -> str:
        """Task name as written in outputs files: ``LaMP_N``."""
        return f"LaMP_{self.number}"

    @property
    def dir_parts(self) -> tuple[str, ...]:
        """Folder of the task under a split scheme (movie tagging lives under ``LaMP_2/new``)."""
        return (self.official, "new") if self.number == 2 else (self.official,)

    @property
    def input_template(self) -> str:
        return _INPUT_TEMPLATES[self.number]

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def higher_is_better(self) -> bool:
        return self.kind != "rating"

    @property
    def sign(self) -> float:
        """+1.0 when a higher main metric is better (accuracy, F1, ROUGE), -1.0 when lower is (MAE)."""
        return direction(self.higher_is_better)

    def metric_higher_is_better(self, metric: str) -> bool:
        return metric not in ("mae", "rmse")

    # ----- inputs, queries and what a retriever indexes ------------------------------
    def make_input(self, **content: str) -> str:
        """The task input around the user's content (e.g. ``make_input(text=...)``)."""
        return self.input_template.format(**content)

    def query(self, inp: str) -> str | None:
        """The non-template part of an input (paper Table 2); None if the input lacks it."""
        return self._query(inp)

    def index_text(self, item: Mapping[str, object]) -> str:
        """The text a retriever indexes for one profile item, ending with `` date: ...``."""
        body = " ".join(str(item[f]) for f in self.index_fields)
        return f"{body} date: {item['date']}"

    # ----- prompts --------------------------------------------------------------------
    def entry(self, item: Mapping[str, object], content: str | None = None) -> str:
        """Per-profile-entry prompt; ``content`` replaces the (possibly truncated) content field."""
        values = {k: item[k] for k in self.profile_fields if k != self.content_field}
        values["content"] = item[self.content_field] if content is None else content
        return self.entry_template.format(**values)

    def aggregate(self, inp: str, entries: Sequence[str]) -> str:
        """Join entries with ``", and "`` and combine them with the input."""
        if not entries:
            return inp
        return self._aggregate(inp, ", and ".join(entries))

    def build_prompt(
        self,
        inp: str,
        items: Sequence[Mapping[str, object]],
        counter: TokenCounter | None = None,
        max_length: int = PROMPT_TOKENS,
    ) -> str:
        """The aggregated prompt for ``inp`` with ``items``, fitted to ``max_length`` tokens.

        The profile part gets what the input leaves (the input counted at most 60% of the
        budget), shared evenly over the entries with unused tokens rolling over to the next.
        When even that fails the input share is lowered by 10% steps; at zero the bare
        input is returned, as the official code does.
        """
        if not items:
            return inp
        counter = counter or WhitespaceCounter()
        factor = 0.6
        n_input = counter.count(inp)
        while True:
            budget = max_length - min(n_input, int(factor * max_length))
            try:
                return self.fit_prompt(inp, items, budget, counter)
            except PromptBudgetError:
                factor = round(factor - 0.1, 10)
                if factor < 0:
                    return inp

    def fit_prompt(self, inp: str, items: Sequence[Mapping[str, object]], budget: int,
                   counter: TokenCounter) -> str:
        """``inp`` with ``items``' entries sharing ``budget`` tokens evenly, unused tokens rolling over.

        Raises :class:`PromptBudgetError` when the budget cannot hold every entry's template.
        """
        n = len(items)
        overhead = 2 * (n - 1) + (1 if self.end_token_reserved else 0)
        if self.fixed_suffix:
            overhead += counter.count(self.fixed_suffix)
        per_entry = (budget - overhead) // n
        saved = 0
        entries = []
        for item in items:
            if self.number == 1:
                needed = 2  # the two quotes, as in the official code
            else:
                needed = counter.count(self.entry(item, " "))
            text, used = counter.truncate(str(item[self.content_field]), per_entry + saved - needed)
            saved += per_entry - used - needed
            entries.append(self.entry(item, text))
        return self.aggregate(inp, entries)


def _registry() -> dict[str, Task]:
    tasks = [
        Task("lamp1", 1, "Personalized Citation Identification", "classification",
             ("title", "abstract"), ("accuracy", "f1"), ("[1]", "[2]"), ("title", "abstract"),
             "title", '"{content}"', _lamp1_query, _splice_after_title, end_token_reserved=False),
        Task("lamp2", 2, "Personalized Movie Tagging", "classification",
             ("description", "tag"), ("accuracy", "f1"), LAMP2_TAGS, ("description",),
             "description", 'the tag for the movie: "{content}" is "{tag}"',
             _after("description:"), lambda inp, j: f"{j}. {inp}"),
        Task("lamp3", 3, "Personalized Product Rating", "rating",
             ("text", "score"), ("mae", "rmse"), ("1", "2", "3", "4", "5"), ("text",),
             "text", '{score} is the score for "{content}"',
             _after("review:"), lambda inp, j: f"{j}. {inp}"),
        Task("lamp4", 4, "Personalized News Headline Generation", "generation",
             ("text", "title"), ("rouge1", "rougeL"), None, ("title", "text"),
             "text", '"{title}" is the title for "{content}"',
             _after("article:"), lambda inp, j: f"{j}. {inp}"),
        Task("lamp5", 5, "Personalized Scholarly Title Generation", "generation",
             ("title", "abstract"), ("rouge1", "rougeL"), None, ("title", "abstract"),
             "abstract", '"{title}" is the title for "{content}"',
             _after("paper:"), lambda inp, j: f"{j}. Following the given patterns {inp}",
             fixed_suffix="Following the given patterns"),
        Task("lamp6", 6, "Personalized Email Subject Generation", "generation",
             ("text", "title"), ("rouge1", "rougeL"), None, ("text",),
             "text", '"{title}" is the title for "{content}"',
             _after(":"), lambda inp, j: f"{j}. {inp}"),
        Task("lamp7", 7, "Personalized Tweet Paraphrasing", "generation",
             ("text",), ("rouge1", "rougeL"), None, ("text",),
             "text", '"{content}"',
             _after(":"), lambda inp, j: f"{j} are written by a person. Following the given patterns {inp}",
             fixed_suffix="are written by a person. Following the given patterns"),
    ]
    return {t.name: t for t in tasks}


_TASKS = _registry()
TASK_NAMES: tuple[str, ...] = tuple(_TASKS)


def get_task(name: str | Task) -> Task:
    """The task named ``lamp1``..``lamp7`` (``LaMP_3`` and ``LaMP-3`` are accepted too)."""
    if isinstance(name, Task):
        return name
    key = str(name).strip().lower().replace("_", "").replace("-", "")
    if key not in _TASKS:
        raise KeyError(f"unknown task {name!r}; expected one of {', '.join(TASK_NAMES)}")
    return _TASKS[key]


def all_tasks() -> list[Task]:
    return list(_TASKS.values())


def resolve_tasks(task: str | Sequence[str]) -> list[Task]:
    """``"all"`` -> the seven tasks; a name or a list of names -> those tasks."""
    if isinstance(task, str):
        if task.strip().lower() == "all":
            return all_tasks()
        return [get_task(t) for t in task.split(",")]
    return [get_task(t) for t in task]
