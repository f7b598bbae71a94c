"""Long-form personalized writing: the multistage, multitask pipeline of Li et al. (2023).

"Teach LLMs to Personalize: An Approach inspired by Writing Education":
retrieve and rank an author's past documents for the first 150 characters of a new one,
summarize and synthesize the ranked entries, and generate the rest with a model trained on the
task, optionally with the author-distinction task. One module per stage:

- :mod:`~lampkit.longform.data`: documents as JSONL (author, id, date, text), checked; task instances;
- :mod:`~lampkit.longform.synth`: the embedded data, authors with a recognizable voice;
- :mod:`~lampkit.longform.snippets`: consecutive sentences up to 250 characters;
- :mod:`~lampkit.longform.rankers`: RecentDoc, RankDocBM25, RankDocDense, RankSnippet, RankDocBySnpt;
- :mod:`~lampkit.longform.synthesis`: the summary (an extractive stand-in) and the key elements;
- :mod:`~lampkit.longform.generator`: input sections, author-distinction pairs, the small T5;
- :mod:`~lampkit.longform.pipeline`: configurations and the generator's inputs;
- :mod:`~lampkit.longform.metrics`: BLEU, ROUGE-1/2/L, significance markers;
- :mod:`~lampkit.longform.config`: the chapter's settings (no torch);
- :mod:`~lampkit.longform.experiment`: the chapter's cached stages and ``lampkit longform``;
- :mod:`~lampkit.longform.report`: statistics, examples and sentences for the chapter.
"""

from lampkit.longform.synth import write_longform

__all__ = ["write_longform"]
