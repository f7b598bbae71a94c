"""The committed embedded LLM (lampkit/resources/models/mini-t5): loadable, documented, and trained on
the data the generator makes today."""

import json

import pytest

from lampkit.pipeline import default_llm_path, get_llm
from lampkit.tasks import TASK_NAMES

ROOT = default_llm_path()


def _records():
    return {name: json.loads((ROOT / name / "training.json").read_text()) for name in TASK_NAMES}


def test_one_model_per_task_with_its_card():
    for name, record in _records().items():
        folder = ROOT / name
        assert (folder / "model.safetensors").exists() and not list(folder.glob("*.bin"))
        assert record["command"].startswith("lampkit llm train") and "--per-task" in record["command"]
        assert list(record["dev"]["metrics"]) == [name]
        card = (folder / "README.md").read_text()
        assert record["command"] in card and str(record["seed"]) in card
    assert "| lamp7 |" in (ROOT / "README.md").read_text()


def test_loads_through_from_pretrained_offline():
    llm = get_llm(None, 1, "lamp2")
    assert llm.model_id.startswith("sha256:")
    out = llm.generate(["Which tag does this movie relate to among the following tags? Just answer with the tag "
                        "name without further explanation. tags: [sci-fi, based on a book, comedy, action, "
                        "twist ending, dystopia, dark comedy, classic, psychology, fantasy, romance, "
                        "thought-provoking, social commentary, violence, true story] description: a ship lands"])
    assert len(out) == 1 and isinstance(out[0], str)


@pytest.mark.slow
def test_trained_on_the_data_the_generator_makes_today():
    """Fails when mini-LaMP changes: retrain with the command in the model card."""
    from lampkit.llm.recipe import _fingerprint

    for name, record in _records().items():
        scale = record["data"]["source"].split("scale ")[1].split(",")[0]
        assert record["data"]["fingerprints"]
        for seed, fp in record["data"]["fingerprints"].items():
            assert _fingerprint(int(seed), scale, [name]) == fp, (
                f"{name} of mini-LaMP seed {seed} ({scale}) changed since its embedded LLM was trained: rerun "
                f"`{record['command']}`")
