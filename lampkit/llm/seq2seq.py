"""The frozen LLM of the pipeline: any Hugging Face seq2seq model, batched and deterministic.

``Seq2SeqLLM.load`` takes a hub name (``google/flan-t5-base`` ... ``-xxl``, read from the local
Hugging Face cache when ``HF_HUB_OFFLINE=1``) or a local folder written by ``save_pretrained``
(lampkit's embedded mini-t5 is one), through ``AutoTokenizer`` and
``AutoModelForSeq2SeqLM.from_pretrained``; no remote code is ever run.

``generate`` sorts the prompts by token length, generates batch by batch with beam search
(beam 4 by default, as in the paper; no sampling) and returns the outputs in the order of the
prompts, decoded without special tokens and stripped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from lampkit.retrievers.encoders import hub_offline, quiet_loading, folder_id
from lampkit.tasks import HFTokenCounter

__all__ = ["Seq2SeqLLM", "resolve_dtype", "model_for_task"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """``None``/``"auto"``: bfloat16 on a CUDA device that supports it, else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected 'auto' or one of {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def model_for_task(name_or_path: str | Path, task: str | None) -> str:
    """The model to load for ``task``: a hub name or a model folder as given; in a folder of
    per-task models (``<folder>/lamp1/config.json`` ... , like the embedded mini-t5) the task's own.
    """
    path = Path(name_or_path).expanduser()
    if not path.is_dir() or (path / "config.json").exists():
        return str(name_or_path)
    if task is None:
        raise ValueError(f"{path} holds one model per task ({', '.join(sorted(p.name for p in path.glob('*/config.json')))}):"
                         " name the task")
    if not (path / task / "config.json").exists():
        raise FileNotFoundError(f"{path} has no config.json, and no model for task {task!r} in {path / task}")
    return str(path / task)


class Seq2SeqLLM:
    """A frozen seq2seq LLM with its tokenizer, a token counter for prompts and its settings."""

    def __init__(self, model, tokenizer, model_id: str, device: str, beams: int = 4,
                 max_new_tokens: int = 128, max_input_length: int = 512) -> None:
        if beams < 1 or max_new_tokens < 1 or max_input_length < 1:
            raise ValueError("beams, max_new_tokens and max_input_length must be at least 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id  # stable identity for cache keys
        self.device = device
        self.counter = HFTokenCounter(tokenizer)
        self.settings: dict[str, Any] = {
            "beams": int(beams),
            "max_new_tokens": int(max_new_tokens),
            "max_input_length": int(max_input_length),
            "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        }

    @classmethod
    def load(cls, name_or_path: str | Path, device: str | None = None, dtype: str | torch.dtype | None = None,
             beams: int = 4, max_new_tokens: int = 128, max_input_length: int = 512) -> "Seq2SeqLLM":
        """A hub name or a local ``save_pretrained`` folder, on ``device`` (cuda when available).

        ``dtype``: ``"auto"``/None (bfloat16 on a CUDA device that supports it, else float32),
        ``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``.
        """
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = resolve_dtype(dtype, device)
        path = Path(name_or_path).expanduser()
        local = path.is_dir()
        source = str(path) if local else str(name_or_path)
        options: dict[str, Any] = {"trust_remote_code": False, "local_files_only": local or hub_offline()}
        use_safetensors = True if local and any(path.glob("*.safetensors")) else None
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(source, **options)
            model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=torch_dtype, use_safetensors=use_safetensors,
                                                          **options)
        if local:
            model_id = folder_id(source)
        else:
            revision = getattr(model.config, "_commit_hash", None)
            model_id = f"{source}@{revision}" if revision else source
        return cls(model.to(device), tokenizer, model_id, device, beams, max_new_tokens, max_input_length)

    def _encode_lengths(self, prompts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(prompts), max_length=self.settings["max_input_length"], truncation=True)
        return [len(ids) for ids in enc["input_ids"]]

    @torch.inference_mode()
    def _generate_batch(self, prompts: Sequence[str]) -> list[str]:
        s = self.settings
        enc = self.tokenizer(list(prompts), max_length=s["max_input_length"], truncation=True,
                             padding=True, return_tensors="pt").to(self.device)
        out = self.model.generate(**enc, num_beams=s["beams"], do_sample=False,
                                  max_new_tokens=s["max_new_tokens"], num_return_sequences=1)
        return [text.strip() for text in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def generate(self, prompts: Sequence[str], batch_size: int = 32, show_progress: bool = False) -> list[str]:
        """Outputs for ``prompts``, in their order; batches hold prompts of similar token length."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        prompts = list(prompts)
        if not prompts:
            return []
        lengths = self._encode_lengths(prompts)
        # longest first (a memory error shows at once); equal lengths keep their input order
        order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
        outputs: list[str | None] = [None] * len(prompts)
        starts = range(0, len(order), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="generate", unit="batch")
        for start in starts:
            idx = order[start:start + batch_size]
            for i, text in zip(idx, self._generate_batch([prompts[i] for i in idx])):
                outputs[i] = text
        return outputs  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Seq2SeqLLM({self.model_id!r}, device={self.device!r}, settings={self.settings})"
