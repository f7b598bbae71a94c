"""ROPG's configuration, with no heavy import (no torch): the training settings and the stage's setup.

:class:`RopgConfig` holds the training settings (the dataclass defaults are the paper's);
:class:`RopgSetup` adds the training inputs and carries the ``book`` and ``paper`` presets from
which the chapters' parameters, the ``lampkit ropg`` flags and the checkpoints' cache keys come.
:mod:`lampkit.ropg.method` and :mod:`lampkit.ropg.stage` use them (and still export them), so that
the command line can build its parser, and a chapter check its parameters, without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from lampkit.config import ConfigError, StageConfig

__all__ = ["DEPTH", "METHODS", "CRITERIA", "criterion_key", "RopgConfig", "RopgSetup"]

DEPTH = 16  # l: the initial retriever's top items the policy ranges over
METHODS = ("rl", "kd")
CRITERIA = {"expected": "dev_expected_eval", "top_k": "dev_topk_eval"}  # RopgConfig.criterion -> dev_metrics key


def criterion_key(criterion: str) -> str:
    """The :func:`~lampkit.ropg.method.dev_metrics` entry a criterion names (``expected``: E_pi[EVAL]; ``top_k``: EVAL@k)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {tuple(CRITERIA)}, got {criterion!r}")
    return CRITERIA[criterion]


@dataclass(frozen=True)
class RopgConfig:
    """ROPG settings; the defaults are the paper's (Salemi et al. section 4, with the training settings of section 6.2).

    After the linear warm-up over ``warmup_ratio`` of the optimizer steps, ``schedule`` =
    ``"linear"`` decays the learning rate linearly towards 0 at the last step (the default, as
    ``transformers``' linear schedule with warm-up); ``"constant"`` keeps it. ``batch_size``
    inputs make one optimizer step (the effective batch), in forward passes of
    ``micro_batch_size`` inputs whose gradients accumulate. ``train_layers`` None trains the
    whole encoder; N trains the top N transformer layers (see :class:`~lampkit.ropg.retriever.TrainableDense`).
    ``dtype`` (``"bfloat16"``; ``"auto"``: as :func:`~lampkit.retrievers.encoders.resolve_encoder_dtype`,
    bfloat16 where the hardware multiplies it fast) runs forward passes under autocast; None: float32.
    With ``dev_share`` > 0, ``criterion`` says which held-out measure picks the epoch kept:
    ``"expected"``, the policy's E_pi[EVAL], or ``"top_k"``, EVAL@k: the mean EVAL of the
    ``top_k`` items the retriever scores highest, which a retriever's ranking alone decides (the
    softmax's temperature does not move it: KD's target, a softmax of EVALs in [0, 1], is close to
    uniform, so KD lowers E_pi[EVAL] even where it orders the items better).
    """

    depth: int = DEPTH
    epochs: int = 10
    batch_size: int = 64
    micro_batch_size: int = 8
    lr: float = 1e-5
    warmup_ratio: float = 0.05
    schedule: str = "linear"
    max_grad_norm: float = 1.0
    train_layers: int | None = None
    max_length: int = 512
    seed: int = 0
    device: str | None = None
    dtype: str | None = None
    deterministic: bool = True
    dev_share: float = 0.0
    patience: int | None = None
    criterion: str = "expected"
    top_k: int = 4

    def __post_init__(self) -> None:
        if self.schedule not in ("linear", "constant"):
            raise ValueError(f"schedule must be 'linear' or 'constant', got {self.schedule!r}")
        criterion_key(self.criterion)
        if min(self.depth, self.epochs, self.batch_size, self.micro_batch_size, self.top_k) < 1:
            raise ValueError("depth, epochs, batch_size, micro_batch_size and top_k must be at least 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")
        if not 0.0 <= self.dev_share < 1.0:
            raise ValueError(f"dev_share must lie in [0, 1), got {self.dev_share}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 or None, got {self.patience}")


@dataclass(frozen=True)
class RopgSetup(StageConfig):
    """ROPG: what a checkpoint is trained with, the training inputs and the training settings.

    The dataclass defaults are the paper's (section 4 and its training details: the whole encoder,
    Adam at 1e-5 with 5% warm-up, gradient clipping at 1, 10 epochs, effective batch 64, every
    training input). The ``book`` preset fits two CPU cores: the top layer only and the first 100
    training inputs, of which 20% are held out; 12 epochs at batch 4 (240 optimizer steps where 80
    inputs train, ten times the 21 steps of batch 16 for 3 epochs that the book ran before), keeping
    the weights of the epoch with the best EVAL@k on the held-out inputs (``criterion="top_k"``:
    the mean EVAL of the k items ranked first, see :class:`RopgConfig`);
    Adam at 1e-4, above the paper's 1e-5 as only one layer trains (3e-4 at batch 16 was the
    earlier setting: of 1e-4, 3e-4 and 1e-3 tried on LaMP-2 with a prototype LLM, 1e-3 hurt
    ROPG-RL there and on LaMP-4); forward passes run in the encoders' precision
    (``dtype="auto"``: bfloat16 autocast where the hardware multiplies it fast).
    """

    train_inputs: int | None = None  # the first N inputs of the train split; None: all
    config: RopgConfig = RopgConfig()

    PREFIX = "ropg"
    PRESET_VALUES = {
        "book": {"train_inputs": 100, "epochs": 12, "batch_size": 4, "micro_batch_size": 4, "lr": 1e-4,
                 "train_layers": 1, "dtype": "auto", "dev_share": 0.2, "patience": None, "criterion": "top_k"},
        "paper": {},
    }
    HELP = {
        "train_inputs": "first N inputs of the train split that get item feedback (all: every input)",
        "depth": "l: the initial retriever's top items each scored by the LLM",
        "epochs": "training epochs",
        "batch_size": "inputs per optimizer step (the effective batch)",
        "micro_batch_size": "inputs per forward pass (gradients accumulate up to batch_size)",
        "lr": "Adam's peak learning rate",
        "warmup_ratio": "share of the optimizer steps with a linear warm-up",
        "schedule": "learning rate after the warm-up: linear decay or constant",
        "max_grad_norm": "gradient clipping norm",
        "train_layers": "top transformer layers trained (all: the whole encoder)",
        "max_length": "tokens of each encoded text",
        "seed": "seed of the training (order, sampling, dropout)",
        "device": "torch device (none: cuda when available, else cpu)",
        "dtype": "forward passes under autocast: bfloat16, or auto (bfloat16 where the hardware is fast); none: float32",
        "deterministic": "deterministic torch algorithms",
        "dev_share": "share of the training inputs held out to stop training and pick the best epoch (0: none)",
        "patience": "epochs without a better dev criterion before training stops (none: every epoch)",
        "criterion": "what picks the epoch kept: expected (E_pi[EVAL]) or top_k (EVAL of the top_k items ranked first)",
        "top_k": "items the top_k criterion averages (the prompt's k)",
    }
    CHOICES = {"schedule": ("linear", "constant"), "dtype": ("auto", "bfloat16"), "criterion": tuple(CRITERIA)}
    NONE_WORD = {"train_inputs": "all", "train_layers": "all", "device": "auto", "dtype": "float32", "patience": "none"}

    def __post_init__(self) -> None:
        if self.train_inputs is not None and self.train_inputs < 1:
            raise ConfigError(f"train_inputs must be at least 1 or None (all), got {self.train_inputs}")
