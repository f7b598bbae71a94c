"""The book's chapters and the command line's stage subcommands: which configurations each takes.

A chapter's papermill parameters and its subcommand's flags come from the same classes: the core
:class:`~lampkit.pipeline.Settings`, the stage configurations upstream of it
(:class:`~lampkit.ropg.config.RopgSetup`, :class:`~lampkit.rspg.config.RspgConfig`) and the chapter's
run options below, plus ``preset`` (``book`` or ``paper``), which every stage configuration starts
from. :func:`chapter_run` reads a chapter's parameters out of the notebook's namespace (an unknown
or misspelled name, or a bad value, is an error naming it and what is allowed);
:func:`add_arguments` and :func:`from_args` do the same for a subcommand.

In a chapter's parameters cell, the stage settings are ``...`` (Ellipsis): the preset's value.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pandas loads on first use: `lampkit --help` stays fast
    import pandas as pd

from lampkit.config import PRESETS, ConfigError, StageConfig, unknown_message
from lampkit.longform.config import LongformSettings
from lampkit.pipeline import Context, Settings, context, resolve_eval_split
from lampkit.ropg.config import METHODS as ROPG_METHODS, RopgSetup
from lampkit.rspg.config import MODES, RspgConfig

__all__ = ["BaselinesRun", "RopgRun", "SelectionRun", "Table3Run", "Chapter", "CHAPTERS", "ChapterRun",
           "chapter_run", "add_arguments", "from_args", "parameters_source", "parameter_table"]

SPLITS = ("dev", "test")
# "auto": test where the data holds its golds, else dev (LaMP hides the test golds; see ChapterRun.resolved)
EVAL_SPLITS = ("auto", *SPLITS)
AUTO_HELP = "auto: test where the data has its golds, else dev (real LaMP hides test golds)"


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ConfigError(f"{what} {text!r}: choose from {', '.join(allowed)} (comma-separated)")
    return names


@dataclass(frozen=True)
class BaselinesRun(StageConfig):
    """Chapter 02: the baseline pool."""

    eval_split: str = "auto"

    HELP = {"eval_split": f"split of the results table; {AUTO_HELP}"}
    CHOICES = {"eval_split": EVAL_SPLITS}


@dataclass(frozen=True)
class RopgRun(StageConfig):
    """Chapter 03: which ROPG methods to train and where to compare them."""

    methods: str = "rl,kd"
    eval_split: str = "dev"

    HELP = {"methods": "ROPG methods to train: rl, kd or rl,kd", "eval_split": "split of the comparison"}
    CHOICES = {"eval_split": SPLITS}

    def __post_init__(self) -> None:
        _names(self.methods, ROPG_METHODS, "methods")

    @property
    def method_list(self) -> tuple[str, ...]:
        return _names(self.methods, ROPG_METHODS, "methods")


@dataclass(frozen=True)
class SelectionRun(StageConfig):
    """Chapters 04 and 05: which selectors, which split, which pool."""

    methods: str = "pre,post"
    eval_split: str = "auto"
    with_ropg: bool = True

    HELP = {"methods": "RSPG selectors to train: pre, post or pre,post",
            "eval_split": f"split of the results; {AUTO_HELP}",
            "with_ropg": "the pool holds ROPG-RL and ROPG-KD (false: the four baseline retrievers only)"}
    CHOICES = {"eval_split": EVAL_SPLITS}

    def __post_init__(self) -> None:
        _names(self.methods, MODES, "methods")

    @property
    def modes(self) -> tuple[str, ...]:
        return _names(self.methods, MODES, "methods")


@dataclass(frozen=True)
class Table3Run(StageConfig):
    """Chapter 06: Table 3."""

    eval_split: str = "auto"
    alpha: float = 0.05

    HELP = {"eval_split": f"split of the table; {AUTO_HELP}",
            "alpha": "significance level of the markers"}
    CHOICES = {"eval_split": EVAL_SPLITS}

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha must lie in (0, 1), got {self.alpha}")


@dataclass(frozen=True)
class Chapter:
    """A chapter: its notebook, the configurations it takes (core first, its run options last), its subcommand
    (``"longform run"``: a subcommand of a subcommand)."""

    notebook: str
    configs: tuple[type[StageConfig], ...]
    command: str | None = None

    @property
    def stage_configs(self) -> tuple[type[StageConfig], ...]:
        """The configurations that start from the preset (the core settings and the run options do not)."""
        return tuple(c for c in self.configs if c.PREFIX)

    def params(self) -> list[str]:
        names = [p for c in self.configs for p in c.params()]
        return names + ["preset"] if self.stage_configs else names


CHAPTERS: dict[str, Chapter] = {
    "02_retrieval": Chapter("02_retrieval.ipynb", (Settings, BaselinesRun), "baselines"),
    "03_ropg": Chapter("03_ropg.ipynb", (Settings, RopgSetup, RopgRun), "ropg"),
    "04_selection": Chapter("04_selection.ipynb", (Settings, RopgSetup, RspgConfig, SelectionRun), "rspg"),
    "05_oracle": Chapter("05_oracle.ipynb", (Settings, RopgSetup, RspgConfig, SelectionRun), "ablation"),
    "06_results": Chapter("06_results.ipynb", (Settings, RopgSetup, RspgConfig, Table3Run), "table3"),
    "07_multistage": Chapter("07_multistage.ipynb", (LongformSettings,), "longform run"),
}


@dataclass(frozen=True)
class ChapterRun:
    """A chapter's configurations, validated: ``settings``, the upstream stages' and the run options."""

    chapter: str
    preset: str
    configs: Mapping[type, StageConfig]

    @property
    def settings(self) -> Settings:
        return self.configs[Settings]  # type: ignore[return-value]

    @property
    def ropg(self) -> RopgSetup:
        return self.configs[RopgSetup]  # type: ignore[return-value]

    @property
    def rspg(self) -> RspgConfig:
        return self.configs[RspgConfig]  # type: ignore[return-value]

    @property
    def longform(self) -> LongformSettings:
        return self.configs[LongformSettings]  # type: ignore[return-value]

    @property
    def run(self) -> Any:
        return self.configs[CHAPTERS[self.chapter].configs[-1]]

    def resolved(self, say=print) -> "ChapterRun":
        """This run with ``eval_split="auto"`` resolved (:func:`lampkit.pipeline.resolve_eval_split`):
        test where the data has its golds, else dev, which ``say`` announces."""
        split = getattr(self.run, "eval_split", None)
        if split != "auto":
            return self
        cls = CHAPTERS[self.chapter].configs[-1]
        chosen = resolve_eval_split(self.settings, split, say)
        return ChapterRun(self.chapter, self.preset, {**self.configs, cls: self.run.with_(eval_split=chosen)})

    def context(self, **overrides: Any) -> Context:
        """The run context of the core settings (``overrides``: resources to inject)."""
        return context(self.settings, **overrides)

    def table(self) -> pd.DataFrame:
        """Every setting of the run beside the ``book`` and ``paper`` presets' values."""
        return parameter_table(self)


def _check_chapter(chapter: str) -> Chapter:
    if chapter not in CHAPTERS:
        raise ConfigError(f"unknown chapter {chapter!r}; chapters with parameters: {', '.join(CHAPTERS)}")
    return CHAPTERS[chapter]


def _build(chapter: str, given: Mapping[str, Any], where: str) -> ChapterRun:
    ch = _check_chapter(chapter)
    preset = given.get("preset", "book")
    if preset not in PRESETS:
        raise ConfigError(f"{where} 'preset' must be one of {', '.join(PRESETS)}, got {preset!r}")
    allowed = ch.params()
    unknown = [n for n in given if n not in allowed]
    if unknown:
        raise ConfigError(unknown_message(unknown[0], allowed, where))
    configs = {}
    for cls in ch.configs:
        mine = {p: given[p] for p in cls.params() if p in given}
        configs[cls] = cls.from_params(mine, preset if cls.PREFIX else "book", where)
    return ChapterRun(chapter, preset, configs)


_NOT_PARAMETERS = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def chapter_run(chapter: str, namespace: Mapping[str, Any]) -> ChapterRun:
    """The chapter's configurations from its parameters in ``namespace`` (the notebook's ``globals()``).

    Call it right after the parameters cell, before other imports: every plain value in the
    namespace (str, int, float, bool, None or ``...``) then is a parameter, and one the chapter does
    not take is an error naming it (papermill injects misspelled names without complaint).
    ``...`` means "the preset's value".
    """
    given = {name: value for name, value in namespace.items()
             if not name.startswith("_") and name not in _NOT_PARAMETERS
             and (value is None or value is Ellipsis or isinstance(value, (str, int, float, bool)))}
    return _build(chapter, {k: v for k, v in given.items() if v is not Ellipsis}, "chapter parameter")


def add_arguments(parser: argparse.ArgumentParser, chapter: str) -> None:
    """The chapter's parameters as flags of ``parser`` (``--preset`` first, when the chapter has stage settings)."""
    ch = _check_chapter(chapter)
    if ch.stage_configs:
        parser.add_argument("--preset", default="book", choices=PRESETS,
                            help="starting values of the stage settings: book (two CPU cores) or paper "
                                 "(every setting the paper states) (default: book)")
    for cls in ch.configs:
        cls.add_arguments(parser)


def from_args(chapter: str, args: argparse.Namespace) -> ChapterRun:
    """The chapter's configurations from parsed flags (:func:`add_arguments`)."""
    ch = _check_chapter(chapter)
    preset = getattr(args, "preset", "book")
    configs = {cls: cls.from_args(args, preset if cls.PREFIX else "book") for cls in ch.configs}
    return ChapterRun(chapter, preset, configs)


def parameters_source(chapter: str) -> str:
    """The source of the chapter's papermill parameters cell, generated from its configurations."""
    ch = _check_chapter(chapter)
    lines = []
    for cls in ch.configs:
        title = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
        lines.append(f"# {title} ({cls.__module__}.{cls.__name__})")
        if cls.PREFIX:
            lines.append("# ... : the preset's value")
        for o in cls.options():
            value = "..." if cls.PREFIX else repr(o.default)
            lines.append(f"{o.param} = {value}" + (f"  # {o.help}" if o.help else ""))
        if cls is ch.configs[0] and ch.stage_configs:
            lines.append('preset = "book"  # the stage settings\' starting values: book (two CPU cores) or paper')
    return "\n".join(lines)


def parameter_table(run: ChapterRun) -> pd.DataFrame:
    """Setting, this run's value and the two presets' values, for every stage setting of ``run``."""
    import pandas as pd

    rows = []
    for cls, config in run.configs.items():
        if not cls.PREFIX:
            continue
        book, paper, values = cls.preset("book").flat(), cls.preset("paper").flat(), config.flat()
        for o in cls.options():
            rows.append({"setting": o.param, "this run": _show(values[o.name]), "book": _show(book[o.name]),
                         "paper": _show(paper[o.name])})
    return pd.DataFrame(rows).set_index("setting")


def _show(value: Any) -> str:
    return "None" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
