"""Chapter 07 runs as typed with papermill (tiny data, tiny encoder, a few training steps)."""

import pytest

from notebooks import outputs_text, run_chapter


@pytest.mark.slow
def test_multistage_chapter_reports_every_ranker_and_ablation(tmp_path, tiny_encoder_dir):
    nb = run_chapter("07_multistage", tmp_path, scale="tiny", encoder=tiny_encoder_dir, base_model="train",
                     base_steps=3, steps=2, threads=1)
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
    text = outputs_text(nb) + html
    for name in ("no past passages", "RecentDoc", "RankDocBM25", "RankDocDense", "RankSnippet", "RankDocBySnpt",
                 "+ Su", "+ Su + Sy", "+ Su + Sy + multitask", "BLEU", "ROUGE-L"):
        assert name in text, name
    assert "<b>" in html  # the best of each column in bold
    assert "against the row above" in text  # the findings are written from the numbers
    assert "Warning" not in text
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
