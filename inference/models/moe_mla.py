"""DeepSeek-V2/V3 multi-head latent attention (MLA) on the shared paged attention kernels.

MLA compresses keys and values through a low-rank latent ``c = norm(x @ W_kv_a)`` and expands it per
head with ``kv_b_proj`` into a no-position key part (``qk_nope_head_dim``) and a value
(``v_head_dim``); a separate ``qk_rope_head_dim`` key part, shared by all heads, carries the rotary
embedding. Here the expanded keys and values are what the KV cache holds (one KV head per query
head, ``head_dim = nope + rope``, values zero-padded to it), so the engine's rotary+cache-write and
paged-attention kernels serve MLA unchanged. Caching the latent instead (``kv_lora_rank + rope``
floats per token, with the ``kv_b`` projection absorbed into q and o) would need an attention kernel
for one KV head of width 576 and is not done.

To let the kernel's rotate-half rotary touch only the rope dimensions, each head's q and k are laid
out as ``[rope_a, nope_a, rope_b, nope_b]`` (``rope_a``/``rope_b`` the two members of each rotary
pair: first and second half, or even and odd dimensions for the interleaved layouts of DeepSeek-V2
and of V3's ``rope_interleave``) and the rotary table holds cos 1, sin 0 for the nope columns. q·k is
unchanged by applying one permutation to both; the q rows of the projection are permuted at load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inference.config import ModelConfig
from inference.int4 import Int4Weight
from inference.layers.attention import Attention
from inference.layers.linear import Linear
from inference.layers.norm import RMSNorm
from inference.layers.rotary import RotaryEmbedding, inv_frequencies
from inference.q8 import Q8Weight

# DeepSeek's q_a / kv_a norms are built with the RMSNorm default, not the config's rms_norm_eps.
LATENT_NORM_EPS = 1e-6


@dataclass
class MLAConfig:
    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    rope_interleave: bool = True

    @property
    def head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_frequencies(
    dim: int, theta: float, scaling: dict | None, max_positions: int
) -> tuple[torch.Tensor, float]:
    """(inverse frequencies, cos/sin factor) for the rope dims, as ``transformers`` computes them,
    YaRN included (DeepSeek's long-context checkpoints use it)."""
    if (scaling or {}).get("rope_type") != "yarn":
        return inv_frequencies(dim, theta, scaling), 1.0
    factor = scaling.get("factor") or max_positions / scaling["original_max_position_embeddings"]
    mscale, mscale_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        if mscale and mscale_all:
            attention_factor = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all)
        else:
            attention_factor = _yarn_mscale(factor)
    beta_fast, beta_slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1
    original = scaling["original_max_position_embeddings"]

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(theta))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos_freqs = theta ** (torch.arange(0, dim, 2).float() / dim)
    extrapolation = 1 - ramp
    inv = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
    return inv, float(attention_factor)


def softmax_scale(config: ModelConfig, mla: MLAConfig) -> float:
    scale = mla.head_dim**-0.5
    scaling = config.rope_scaling or {}
    if scaling.get("rope_type", "default") != "default" and scaling.get("mscale_all_dim"):
        m = _yarn_mscale(scaling["factor"], scaling["mscale_all_dim"])
        scale = scale * m * m
    return scale


def build_mla_rotary(config: ModelConfig, mla: MLAConfig, max_positions: int) -> RotaryEmbedding:
    """Table [positions, head_dim / 2]: the rope frequencies, then identity columns for the nope dims."""
    inv, factor = rope_frequencies(
        mla.qk_rope_head_dim, config.rope_theta, config.rope_scaling, max_positions
    )
    half_rope = mla.qk_rope_head_dim // 2
    rotary = RotaryEmbedding(
        torch.cat((inv, torch.zeros(mla.qk_nope_head_dim // 2))), max_positions
    )
    if factor != 1.0:
        rotary.cos[:, :half_rope] *= factor
        rotary.sin[:, :half_rope] *= factor
    return rotary


def _rope_pairs(mla: MLAConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices, within the rope dims, of the first and second member of each rotary pair."""
    r = torch.arange(mla.qk_rope_head_dim)
    if mla.rope_interleave:
        return r[0::2], r[1::2]
    return r[: len(r) // 2], r[len(r) // 2 :]


def head_order(mla: MLAConfig) -> torch.Tensor:
    """Checkpoint order within a head is [nope, rope]; ours is [rope_a, nope_a, rope_b, nope_b]."""
    n = mla.qk_nope_head_dim
    rope_a, rope_b = _rope_pairs(mla)
    nope = torch.arange(n)
    return torch.cat((n + rope_a, nope[: n // 2], n + rope_b, nope[n // 2 :]))


def select_rows(w, rows: torch.Tensor):
    if isinstance(w, Int4Weight):
        return Int4Weight(w.qweight[rows], w.scales[rows], w.mins[rows], w.group_size)
    if isinstance(w, Q8Weight):
        return Q8Weight(w.qweight[rows], w.scales[rows])
    return w[rows]


class MLAProjection:
    """x -> [q | k | v] rows for ``Attention`` (num_heads query and KV heads of ``head_dim``)."""

    def __init__(
        self, mla: MLAConfig, num_heads: int, q, q_a_norm, kv_a: Linear, kv_a_norm, kv_b: Linear
    ):
        self.mla, self.num_heads = mla, num_heads
        self.q, self.q_a_norm = q, q_a_norm  # q: Linear, or (q_a, q_b) with the norm between
        self.kv_a, self.kv_a_norm, self.kv_b = kv_a, kv_a_norm, kv_b

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m, h, t = self.mla, self.num_heads, x.shape[0]
        d, n, r, rank = m.head_dim, m.qk_nope_head_dim, m.qk_rope_head_dim, m.kv_lora_rank
        half, hn, hr = d // 2, n // 2, r // 2
        out = x.new_empty(t, 3, h, d)
        if self.q_a_norm is None:
            self.q(x, out=out[:, 0].view(t, h * d))
        else:
            q_a, q_b = self.q
            q_b(self.q_a_norm(q_a(x)), out=out[:, 0].view(t, h * d))
        latent = self.kv_a(x)  # [t, rank + rope], the rope part already in [rope_a, rope_b] order
        kv = self.kv_b(self.kv_a_norm(latent[:, :rank].contiguous())).view(t, h, n + m.v_head_dim)
        k_rope = latent[:, rank:].unsqueeze(1)
        k = out[:, 1]
        k[..., :hr] = k_rope[..., :hr]
        k[..., hr:half] = kv[..., :hn]
        k[..., half : half + hr] = k_rope[..., hr:]
        k[..., half + hr :] = kv[..., hn:n]
        v = out[:, 2]
        v[..., : m.v_head_dim] = kv[..., n:]
        v[..., m.v_head_dim :] = 0.0
        return out.view(t, 3 * h * d)

    def nbytes(self) -> int:
        q = self.q if isinstance(self.q, tuple) else (self.q,)
        norms = [nm for nm in (self.q_a_norm, self.kv_a_norm) if nm is not None]
        return sum(p.nbytes() for p in (*q, self.kv_a, self.kv_b, *norms))


class ValueSlice:
    """o_proj over the first ``v_head_dim`` columns of each head of the padded attention output."""

    def __init__(self, o_proj: Linear, num_heads: int, head_dim: int, v_head_dim: int):
        self.o_proj, self.num_heads, self.head_dim, self.v_head_dim = (
            o_proj,
            num_heads,
            head_dim,
            v_head_dim,
        )

    def __call__(self, o: torch.Tensor) -> torch.Tensor:
        t = o.shape[0]
        v = o.view(t, self.num_heads, self.head_dim)[..., : self.v_head_dim]
        return self.o_proj(v.reshape(t, self.num_heads * self.v_head_dim))

    def nbytes(self) -> int:
        return self.o_proj.nbytes()


def build_mla_attention(
    config: ModelConfig, mla: MLAConfig, weights: dict, p: str, rotary: RotaryEmbedding
) -> Attention:
    h, d = config.num_heads, mla.head_dim
    if mla.v_head_dim > d or mla.qk_nope_head_dim % 2 or mla.qk_rope_head_dim % 2:
        raise ValueError(f"unsupported MLA shape: {mla}")
    q_rows = (torch.arange(h).unsqueeze(1) * d + head_order(mla)).reshape(-1)
    if mla.q_lora_rank is None:
        q = Linear(select_rows(weights.pop(f"{p}q_proj.weight"), q_rows))
        q_a_norm = None
    else:
        q_a = Linear(weights.pop(f"{p}q_a_proj.weight"), weights.pop(f"{p}q_a_proj.bias", None))
        q = (q_a, Linear(select_rows(weights.pop(f"{p}q_b_proj.weight"), q_rows)))
        q_a_norm = RMSNorm(weights.pop(f"{p}q_a_layernorm.weight"), LATENT_NORM_EPS)
    rope_a, rope_b = _rope_pairs(mla)
    kv_rows = torch.cat(
        (torch.arange(mla.kv_lora_rank), mla.kv_lora_rank + rope_a, mla.kv_lora_rank + rope_b)
    )
    kv_a_bias = weights.pop(f"{p}kv_a_proj_with_mqa.bias", None)
    kv_a = Linear(
        select_rows(weights.pop(f"{p}kv_a_proj_with_mqa.weight"), kv_rows),
        None if kv_a_bias is None else kv_a_bias[kv_rows],
    )
    kv_a_norm = RMSNorm(weights.pop(f"{p}kv_a_layernorm.weight"), LATENT_NORM_EPS)
    kv_b = Linear(weights.pop(f"{p}kv_b_proj.weight"))
    o_proj = Linear(weights.pop(f"{p}o_proj.weight"), weights.pop(f"{p}o_proj.bias", None))
    attn = Attention(
        h,
        h,
        d,
        MLAProjection(mla, h, q, q_a_norm, kv_a, kv_a_norm, kv_b),
        ValueSlice(o_proj, h, d, mla.v_head_dim),
        rotary,
    )
    attn.scale = softmax_scale(config, mla)
    return attn
