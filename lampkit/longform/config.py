"""The long-form stage's configuration, with no heavy import (no torch): chapter 07's settings.

:class:`LongformSettings` (data, rankers, the base generator and its fine-tuning) and the
generator's shape and optimisation (:class:`GeneratorConfig`); :mod:`lampkit.longform.experiment`
and :mod:`lampkit.longform.generator` use them (and still export them), so that the command line
can build its parser, and chapter 07 check its parameters, without loading torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lampkit.config import ConfigError, StageConfig
from lampkit.data.sources import resolve_scale
from lampkit.longform import synth
from lampkit.longform.data import SPLITS

if TYPE_CHECKING:
    from lampkit.llm.small_t5 import TrainConfig

__all__ = ["EMBEDDED_SEEDS", "FINETUNE_STEPS", "RANKERS", "GeneratorConfig", "LongformSettings"]

EMBEDDED_SEEDS = (1, 2, 3, 4, 5, 6)  # the seeds of the default-scale data the embedded base was pre-trained on
FINETUNE_STEPS = {"tiny": 10, "small": 30, "default": 50}  # per scale of the embedded data (else 50)
# the rankers of lampkit.longform.rankers, by name
RANKERS: tuple[str, ...] = ("RecentDoc", "RankDocBM25", "RankDocDense", "RankSnippet", "RankDocBySnpt")


@dataclass(frozen=True)
class GeneratorConfig:
    """Model shape and optimisation of the generator (one per pipeline configuration)."""

    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    warmup_steps: int = 30
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    vocab_size: int = 1500
    d_model: int = 64
    d_ff: int = 128
    d_kv: int = 16
    num_heads: int = 4
    num_layers: int = 1
    num_decoder_layers: int = 2
    positional_bias: float = 4.0
    max_input_tokens: int = 192
    max_target_tokens: int = 72
    pair_chars: int = 300  # each passage of an author-distinction pair is cut at this many characters
    threads: int = 2

    def model_config(self) -> "TrainConfig":
        """The fields :func:`lampkit.llm.small_t5.build_model` reads."""
        from lampkit.llm.small_t5 import TrainConfig  # torch: loaded on use only

        return TrainConfig(vocab_size=self.vocab_size, d_model=self.d_model, d_ff=self.d_ff, d_kv=self.d_kv,
                           num_heads=self.num_heads, num_layers=self.num_layers,
                           num_decoder_layers=self.num_decoder_layers, positional_bias=self.positional_bias,
                           dropout=0.0)


@dataclass(frozen=True)
class LongformSettings(StageConfig):
    """Long-form writing (chapter 07): data, rankers, the base generator and its fine-tuning.

    The settings Li et al. state (the 150-character immediate context, 250-character snippets,
    ranked entries cut at 2,500 characters, at most 20 key elements, the 1:1 multitask mixture)
    are constants of the stages, not options; the paper's generator (a fine-tuned LLM) has no
    offline stand-in beyond the small T5 trained here, so the ``book`` and ``paper`` presets are
    the same: the dataclass defaults.
    """

    data_dir: str | None = None  # a folder of {train,dev,test}.jsonl (or a mini-LaMP tree); None: embedded
    scale: str | None = None  # None: $LAMPKIT_SCALE, else "default" (lampkit.data.sources.resolve_scale)
    seed: int = 0
    encoder: str | None = None  # the dense rankers' encoder (None: the embedded MiniLM)
    eval_split: str = "test"
    ablation_ranker: str = "RankDocBySnpt"
    train_targets: int = 4  # current documents per training author
    base_model: str = "embedded"  # "embedded" (shipped; pre-trained here when absent), "train", or a folder
    base_seeds: tuple[int, ...] = EMBEDDED_SEEDS  # seeds of the data that pre-train a base trained here
    base_targets: int = 3  # current documents per author in the base's pre-training
    base_steps: int = 3000
    steps: int | None = None  # fine-tuning steps per configuration (None: FINETUNE_STEPS of the scale)
    generator: GeneratorConfig = GeneratorConfig()  # model shape, lengths (steps and rates: below)
    base_lr: float = 3e-3
    lr: float = 1e-3
    threads: int = 2
    show_progress: bool = True

    NOT_OPTIONS = frozenset({"generator", "base_seeds", "show_progress"})
    HELP = {
        "data_dir": "a folder of {train,dev,test}.jsonl or a mini-LaMP tree (none: the embedded long-form data)",
        "scale": "size of the embedded data: tiny, small or default (none: $LAMPKIT_SCALE, else default)",
        "seed": "data seed (the embedded base generator is pre-trained on other seeds)",
        "encoder": "the dense rankers' encoder: a Hugging Face name or folder (none: the embedded MiniLM)",
        "eval_split": "split of the tables",
        "ablation_ranker": "the ranker of the ablation table (the paper's best: RankDocBySnpt)",
        "train_targets": "current documents per training author",
        "base_model": "embedded (the base generator lampkit ships), train (pre-train it here) or a folder",
        "base_targets": "current documents per author in the base's pre-training",
        "base_steps": "pre-training steps when the base is pre-trained here",
        "steps": "fine-tuning steps per configuration (none: 10, 30 or 50 by scale)",
        "base_lr": "learning rate of the base's pre-training",
        "lr": "learning rate of the fine-tuning",
        "threads": "CPU threads for training and generation",
    }
    CHOICES = {"scale": tuple(synth.SCALES), "eval_split": ("dev", "test"), "ablation_ranker": RANKERS}

    @property
    def base(self) -> GeneratorConfig:
        """The base's training: ``base_steps`` at ``base_lr``, warm-up over 5% of the steps."""
        return dataclasses.replace(self.generator, steps=self.base_steps, lr=self.base_lr,
                                   warmup_steps=max(1, self.base_steps // 20), threads=self.threads)

    @property
    def finetune(self) -> GeneratorConfig:
        """A configuration's fine-tuning: ``steps`` at ``lr``, warm-up over 10% of the steps."""
        steps = self.steps if self.steps is not None else FINETUNE_STEPS.get(str(self.scale), 50)
        return dataclasses.replace(self.generator, steps=steps, lr=self.lr, warmup_steps=max(1, steps // 10),
                                   threads=self.threads)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", resolve_scale(self.scale))
        if self.eval_split not in SPLITS or self.eval_split == "train":
            raise ConfigError(f"eval_split must be dev or test, not {self.eval_split!r}")
        if self.scale not in synth.SCALES:
            raise ConfigError(f"scale must be one of {', '.join(synth.SCALES)}, got {self.scale!r}")
        if self.ablation_ranker not in RANKERS:
            raise ConfigError(f"ablation_ranker must be one of {', '.join(RANKERS)}, got {self.ablation_ranker!r}")
        if self.data_dir is None and self.seed in self.base_seeds:
            raise ConfigError(f"base_seeds {self.base_seeds} include the evaluation seed {self.seed}")
