"""Stage cache keys name their code from the imports in the source (lampkit.store.deps)."""

from lampkit.data.sources import SYNTH_MODULES
from lampkit.feedback import FEEDBACK_MODULES
from lampkit.ropg.stage import ROPG_MODULES
from lampkit.store.deps import depends_on, direct_imports


def test_imports_inside_functions_count():
    # lampkit.pipeline imports the LLM and the encoders inside functions only
    assert {"lampkit.llm.seq2seq", "lampkit.retrievers.encoders"} <= direct_imports("lampkit.pipeline")
    assert "lampkit.llm.seq2seq" in depends_on("lampkit.pipeline")


def test_closure_is_transitive_and_stays_below_the_stage():
    deps = depends_on("lampkit.ropg.method")
    assert "lampkit.retrievers.encoders" in deps  # imported by ropg.method
    for m in deps:  # imported by what it imports, and so on: each module's imports are in the closure
        assert direct_imports(m) <= set(deps)
    assert not any(m.startswith(("lampkit.rspg", "lampkit.cli", "lampkit.analysis")) for m in deps)


def test_stage_keys_cover_what_the_stage_computes_with():
    # the prompts (tasks), the metrics and the store's code key every feedback row
    assert {"lampkit.tasks", "lampkit.metrics.lamp", "lampkit.feedback"} <= set(FEEDBACK_MODULES)
    assert set(FEEDBACK_MODULES) <= set(ROPG_MODULES) and "lampkit.ropg.stage" in ROPG_MODULES
    assert {"lampkit.data.synth.world", "lampkit.data.synth.writer", "lampkit.tasks"} <= set(SYNTH_MODULES)
