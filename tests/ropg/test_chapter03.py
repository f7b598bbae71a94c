"""Chapter 03 (ROPG): its defaults are the pool's, and it runs as typed with papermill."""

import ast
import json

import pytest

from lampkit.ropg import stage as ropg_run
from notebooks import ROOT, outputs_text, run_chapter


def _parameters() -> dict:
    nb = json.loads((ROOT / "book" / "03_ropg.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    assert all(isinstance(node, ast.Assign) for node in tree.body)  # assignments only
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}


def test_chapter_defaults_are_the_book_preset_the_pool_loads():
    # chapter 04's pool gets the ROPG setup it is given; both chapters start from the book preset
    p = _parameters()
    assert all(p[name] is Ellipsis for name in ropg_run.RopgSetup.params())  # the preset's values
    assert p["preset"] == "book" and p["methods"] == "rl,kd" and p["task"] == "all" and p["scale"] is None
    from lampkit.chapters import chapter_run

    assert chapter_run("03_ropg", {}).ropg == chapter_run("04_selection", {}).ropg == ropg_run.RopgSetup.preset("book")


@pytest.mark.slow
def test_ropg_chapter_runs_with_a_local_llm(tmp_path, quick_llm, tiny_encoder_dir, monkeypatch):
    # tiny models: one thread (two threads' OpenMP hand-offs cost more than they save, a lot on a busy machine)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = run_chapter("03_ropg", tmp_path, task="lamp2", scale="tiny", llm=quick_llm, encoder=tiny_encoder_dir,
                     beams=2, ropg_train_inputs=16, ropg_epochs=1, ropg_batch_size=8, ropg_lr=0.01,
                     ropg_dev_share=0.0)  # no held-out share: the trained weights are kept, so the prompts change
    text = outputs_text(nb)
    for name in ("dense", "ropg-rl", "ropg-kd", "differing_share", "this build", "paper", "gold output"):
        assert name in text, name
    assert "On the dev split, at least one ROPG retriever" in text  # generated from the numbers
    assert "Warning" not in text
    assert any(out.get("output_type") == "display_data" and "image/png" in out.get("data", {})
               for cell in nb.cells for out in cell.get("outputs", []))  # the training curves
