"""Model and engine configuration: what a loader fills in and what the engine is tuned by."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    """Architecture hyperparameters, in Hugging Face terms, whatever file they came from.

    ``architecture`` keys ``inference.models.MODEL_REGISTRY``. Families with more settings (MoE)
    subclass this dataclass and add fields.
    """

    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None  # HF rope_scaling / rope_parameters dict, or None
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    bos_token_id: int | None = None
    eos_token_ids: list[int] = field(default_factory=list)
    name: str = ""


@dataclass
class EngineConfig:
    """Scheduler and KV-cache limits.

    ``kv_cache_bytes`` sizes the paged KV pool (K and V for every layer, in the activation dtype);
    ``max_num_batched_tokens`` bounds the tokens one step computes, so a long prompt is prefilled
    in chunks between the decode steps of the other requests.
    ``device``/``kernels``/``dtype`` choose the backend (``inference.layers.backend``): the C
    kernels in float32 on the CPU by default, Triton in bf16 on ``cuda``. ``cuda_graphs`` (default:
    on for the triton backend on CUDA) replays decode steps from CUDA graphs, one per padded batch
    size; True on the CPU runs the same padded static-buffer step eagerly (how tests check it).
    """

    block_size: int = 16
    kv_cache_bytes: int = 512 * 2**20
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 256
    max_model_len: int | None = None  # defaults to the model's max_position_embeddings
    num_threads: int | None = None  # defaults to torch.get_num_threads()
    device: str = "cpu"
    kernels: str | None = None  # "native" | "triton"; by device when None
    dtype: str | None = None  # "float32" | "bfloat16" | "float16"; by device when None
    cuda_graphs: bool | None = None
