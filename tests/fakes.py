"""Small deterministic stand-ins shared by tests (no model, no network)."""

from __future__ import annotations

import random
import time
from typing import Sequence

from lampkit.data.layout import Example
from lampkit.tasks import LAMP2_TAGS, WhitespaceCounter, get_task

WORDS = ("space ship crew planet robot love king ocean storm city war family dream ghost school "
         "music dance money crime island forest train winter summer river").split()


def lamp2_examples(n: int = 30, profile: int = 6, seed: int = 0) -> list[Example]:
    """Hand-made LaMP-2-shaped examples (valid against the task registry)."""
    rng = random.Random(seed)
    task = get_task("lamp2")
    out = []
    for i in range(n):
        items = [{"id": f"u{i}-p{j}", "date": f"20{10 + j:02d}-0{1 + j % 9}-1{j % 9}",
                  "description": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))),
                  "tag": rng.choice(LAMP2_TAGS)} for j in range(rng.randint(2, profile))]
        desc = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        out.append(Example(id=f"q{i}", input=task.make_input(description=desc), profile=items,
                           user_id=f"u{i}", output=rng.choice(LAMP2_TAGS)))
    return out


class FakeLLM:
    """Answers with the first quoted tag in the prompt (or 'comedy'); counts and can slow its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.model_id = "fake-llm"
        self.settings = {"beams": 1, "max_input_length": 512}
        self.counter = WhitespaceCounter()
        self.delay = delay
        self.calls = 0
        self.prompts: list[str] = []

    def generate(self, prompts: Sequence[str], batch_size: int = 32, show_progress: bool = False) -> list[str]:
        self.calls += 1
        self.prompts.extend(prompts)
        if self.delay:
            time.sleep(self.delay * len(prompts))
        outs = []
        for p in prompts:
            marker = '" is "'
            i = p.find(marker)
            outs.append(p[i + len(marker):p.index('"', i + len(marker))] if i >= 0 else "comedy")
        return outs
