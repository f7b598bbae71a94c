"""A chapter given ``-p preset paper`` resolves the paper's configurations, and its table reports them.

(Running chapters 04-06 end to end with the paper preset at the tiny scale, on a tiny local
Longformer, is not yet a test: the selectors' paper training took over ten minutes there.)
"""

from __future__ import annotations

import pytest

from lampkit import chapters
from lampkit.config import ConfigError
from lampkit.ropg.stage import RopgSetup
from lampkit.rspg.stage import RspgConfig

def _expected(encoder: str) -> dict[str, str]:
    """Every stage setting of chapters 04-06 (parameter -> value as the chapters' table shows it):
    the ROPG and RSPG paper presets, the selector's encoder being ``encoder``."""
    expected = {}
    for cls, config in ((RopgSetup, RopgSetup.preset("paper")), (RspgConfig, RspgConfig.paper(encoder=encoder))):
        values = config.flat()
        expected.update({o.param: chapters._show(values[o.name]) for o in cls.options()})
    return expected


def test_a_chapter_with_the_paper_preset_resolves_the_papers_configs():
    run = chapters.chapter_run("04_selection", {"preset": "paper", "task": "lamp2", "scale": "tiny"})
    assert run.rspg == RspgConfig.paper() and run.ropg == RopgSetup.preset("paper")
    assert run.rspg.encoder == "allenai/longformer-base-4096" and run.ropg.config.epochs == 10
    assert run.ropg.config.train_layers is None and run.rspg.trainable_layers is None  # the whole encoders train
    # a setting given beside the preset replaces that setting alone
    mine = chapters.chapter_run("04_selection", {"preset": "paper", "rspg_encoder": "/some/folder"})
    assert mine.rspg == RspgConfig.paper(encoder="/some/folder") and mine.ropg == run.ropg
    expected = _expected("/some/folder")
    table = mine.table()
    assert table["this run"].to_dict() == expected
    assert {s: v for s, v in table["paper"].items() if s != "rspg_encoder"} == \
        {s: v for s, v in expected.items() if s != "rspg_encoder"}
    with pytest.raises(ConfigError, match=r"unknown chapter parameter 'rspg_encodr'.*did you mean 'rspg_encoder'"):
        chapters.chapter_run("04_selection", {"preset": "paper", "rspg_encodr": "/some/folder"})
