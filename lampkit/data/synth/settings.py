"""The numbers of mini-LaMP's generative story: sizes, regime shares, profile structure, dates."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

__all__ = ["Scale", "SCALES", "get_scale", "REGIMES", "REGIME_SHARES", "GROUP_SIZES", "NEWEST_FREE",
           "BACKGROUND_TOPICS", "P_BACKGROUND_DEFAULT", "P_PLACE", "P_SAME_SENTIMENT", "START",
           "INPUT_PERIODS"]


@dataclass(frozen=True)
class Scale:
    """Sizes of one mini-LaMP build (per task)."""

    name: str
    n_train: int
    n_dev: int
    n_test: int
    profile_min: int  # profile sizes are drawn log-uniformly in [profile_min, profile_max] ...
    profile_max: int  # ... and raised where an input's evidence needs more room
    returning: float = 0.5  # share of dev and test inputs written by users of an earlier split

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_dev, self.n_test) < 1:
            raise ValueError(f"scale {self.name!r}: every split needs at least one input")
        if not 1 <= self.profile_min <= self.profile_max:
            raise ValueError(f"scale {self.name!r}: need 1 <= profile_min <= profile_max")
        if not 0.0 <= self.returning <= 1.0:
            raise ValueError(f"scale {self.name!r}: returning must lie in [0, 1]")


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 40, 20, 20, 6, 16),
    "small": Scale("small", 150, 60, 60, 10, 40),
    "default": Scale("default", 400, 200, 200, 15, 60),
}


def get_scale(scale: str | Scale) -> Scale:
    """A :class:`Scale` by name (``tiny``, ``small``, ``default``), or the object itself."""
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise KeyError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)} or a Scale")
    return SCALES[scale]


# Which retriever's evidence carries the gold (see story.py): shares of the inputs of every split.
REGIMES: tuple[str, ...] = ("plain", "lexical", "semantic", "drift", "misleading")
REGIME_SHARES: dict[str, float] = {
    "plain": 0.16,
    "lexical": 0.22,
    "semantic": 0.22,
    "drift": 0.22,
    "misleading": 0.18,
}

# Inclusive ranges of the evidence groups' sizes: relevant items (plain, misleading); relevant
# items and as many decoys (lexical, semantic: the retriever that prefers either group puts a
# majority of it in its top 4); under drift the stale (old-habit) items and the new-habit items,
# always fewer than the stale ones.
GROUP_SIZES: dict[str, tuple[int, int]] = {
    "relevant": (2, 4),
    "contrast": (3, 4),
    "stale": (4, 5),
    "new": (2, 3),
}
NEWEST_FREE = 4  # outside drift, none of an input's evidence is among the profile's 4 newest items

BACKGROUND_TOPICS = (4, 7)  # topics a user writes about besides the inputs' topics
P_BACKGROUND_DEFAULT = 0.25  # chance that a user follows the population on a background topic
P_PLACE = 0.3  # chance that a background entry mentions a (random) place
P_SAME_SENTIMENT = 2 / 3  # LaMP-3: chance that a relevant review has the input's sentiment

START = datetime.date(2008, 1, 1)  # oldest possible profile date
# inputs of each split fall in its period: dev inputs come after train inputs, test after dev
INPUT_PERIODS: dict[str, tuple[datetime.date, datetime.date]] = {
    "train": (datetime.date(2016, 1, 1), datetime.date(2017, 12, 31)),
    "dev": (datetime.date(2018, 7, 1), datetime.date(2018, 12, 31)),
    "test": (datetime.date(2019, 7, 1), datetime.date(2019, 12, 31)),
}
