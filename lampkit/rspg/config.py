"""RSPG's configuration, with no heavy import (no torch): the selectors' and the QPP baselines' settings.

:class:`RspgConfig` carries the ``book`` and ``paper`` presets from which the chapters' parameters,
the ``lampkit rspg`` flags and the selectors' cache keys come; :mod:`lampkit.rspg.selection` and
:mod:`lampkit.rspg.stage` use it (and still export it), so that the command line can build its
parser, and a chapter check its parameters, without loading torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lampkit.config import StageConfig

__all__ = ["MODES", "HEADS", "RspgConfig"]

MODES = ("pre", "post")  # RSPG-Pre reads the prompt, RSPG-Post the prompt and the LLM's output
HEADS = ("linear", "interaction")  # the selector's heads (lampkit.rspg.heads)


@dataclass(frozen=True)
class RspgConfig(StageConfig):
    """RSPG: the selectors' settings and the QPP baselines'.

    The ``book`` preset (the dataclass defaults) fits a CPU budget: a frozen encoder
    (``trainable_layers=0``), the embedded MiniLM cut to its bottom ``encoder_layers`` transformer
    layer(s), and an ``interaction`` ``head`` (:class:`lampkit.rspg.heads.InteractionHead`)
    that learns how the input relates to each retriever's entries: the input, every retrieved
    entry (and for RSPG-Post the LLM's output) are embedded apart, each distinct text once,
    mean-pooled over its first ``max_length`` = 256 tokens and kept in the embedding cache (the
    encoder never changes); what learns is the input's attention over the entries and a
    two-layer MLP on the input, the pooled entries, their product and difference (and the
    output). It trains with Adam at ``lr`` for at most ``epochs``, stopping once the loss on a
    held-out ``dev_share`` of the training inputs has not improved for ``patience`` epochs (the
    epoch with the lowest dev loss is kept). The ``linear`` head is the paper's shape: one linear
    layer on the embedding of the whole text :func:`lampkit.rspg.texts.selector_text` (the whole
    input, the entries sharing the rest of the window, and the output for RSPG-Post; 256 tokens
    hold the whole input of every mini-LaMP input and the four entries' prompts nearly whole,
    ``benchmarks/check_selector_window.py`` measures it); frozen, only that layer learns. The
    ``paper`` preset is the paper's selector (section 5): the linear head on Longformer-base over 1,024
    tokens, fully fine-tuned with Adam at 1e-5 for 20 epochs (no dev set: the paper states none), in effective batches of 64 inputs
    (micro-batches of 8), the learning rate warmed up over 5% of the steps then decayed linearly,
    gradients clipped to norm 1. ``qpp_k`` is the depth of WIG and NQC,
    ``qpp_x`` the fraction of sigma_x%.
    """

    encoder: str | None = None
    encoder_layers: int | None = 1
    max_length: int = 256
    trainable_layers: int | None = 0
    head: str = "interaction"
    epochs: int = 100
    dev_share: float = 0.1
    patience: int | None = 5
    lr: float = 1e-3
    batch_size: int = 8
    micro_batch_size: int | None = None
    warmup_ratio: float = 0.0
    schedule: str = "constant"
    max_grad_norm: float | None = None
    seed: int = 0
    qpp_k: int = 4
    qpp_x: float = 0.5

    PREFIX = "rspg"
    PRESET_VALUES = {
        "book": {},
        "paper": {"encoder": "allenai/longformer-base-4096", "encoder_layers": None, "max_length": 1024,
                  "trainable_layers": None, "head": "linear", "lr": 1e-5, "epochs": 20, "dev_share": 0.0, "patience": None, "batch_size": 64, "micro_batch_size": 8,
                  "warmup_ratio": 0.05, "schedule": "linear", "max_grad_norm": 1.0},
    }
    HELP = {
        "encoder": "the selector's encoder, a Hugging Face name or folder (none: the embedded MiniLM)",
        "encoder_layers": "bottom transformer layers of the selector's encoder kept (all: every layer)",
        "max_length": "selector input tokens",
        "trainable_layers": "top encoder layers the selector trains (0: a frozen encoder; all: every layer)",
        "head": "the selector's head: linear (on the whole text's embedding) or interaction (the input "
                "attending over the entries' embeddings; a frozen encoder only)",
        "epochs": "selector training epochs (at most, with patience)",
        "dev_share": "share of the training inputs held out as the selector's dev set (0: none)",
        "patience": "epochs without a lower dev loss before training stops (none: every epoch)",
        "lr": "the selector's Adam learning rate",
        "batch_size": "inputs per optimizer step (the effective batch)",
        "micro_batch_size": "inputs per forward pass, their gradients accumulated (none: the whole batch)",
        "warmup_ratio": "share of the optimizer steps the learning rate warms up over, linearly",
        "schedule": "the learning rate after the warm-up: constant, or linear decay to 0",
        "max_grad_norm": "gradient norm clipping (none: no clipping)",
        "seed": "seed of the selector's training",
        "qpp_k": "depth of WIG and NQC",
        "qpp_x": "fraction x of sigma_x%",
    }
    NONE_WORD = {"encoder_layers": "all", "trainable_layers": "all", "encoder": "embedded", "micro_batch_size": "batch", "patience": "none"}
    CHOICES = {"schedule": ("constant", "linear"), "head": HEADS}

    def __post_init__(self) -> None:
        if self.head == "interaction" and self.trainable_layers != 0:
            raise ValueError(f"the interaction head reads a frozen encoder's embeddings: it needs trainable_layers 0, "
                             f"got {self.trainable_layers} (or choose the linear head)")

    @classmethod
    def paper(cls, **changes) -> "RspgConfig":
        """The ``paper`` preset (with ``changes``)."""
        return cls.preset("paper", **changes)

    def training(self) -> dict[str, object]:
        """The settings a trained selector depends on."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("qpp_")}
