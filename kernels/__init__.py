"""Triton kernels for the GPU path, each module beside its PyTorch reference; no model knowledge.

The engine calls ``kernels.ops``, which runs Triton on CUDA tensors and the reference elsewhere
(``force_triton=True/False`` or ``PARLEY_KERNELS=triton|torch`` override; Triton on CPU tensors
needs ``TRITON_INTERPRET=1`` set before the kernel modules are imported):

    from kernels import ops
    from kernels.int4_gemm import prepare_int4, PreparedInt4
    from kernels.fused_moe import SharedExpert

    w = prepare_int4(qweight, scales, mins, group_size)     # once at load, from an Int4Weight;
                                                            # stack experts' fields for [E, N, K/2]
    ops.int4_linear(x [..., K], w, bias=None) -> [..., N]   # fp16/bf16/fp32 activations
    ops.rms_norm(x, weight, eps) -> out
    ops.rms_norm(x, weight, eps, residual) -> (out, residual)   # residual <- x + residual, in place
    ops.rms_norm(q_heads, q_norm_weight, eps, out=q_heads)       # per-head norm on a QKV view
    ops.rotary(q [T, Hq, D], k [T, Hk, D], cos, sin, positions=None)   # in place, neox style;
                                # cos/sin [T, rot/2], or caches [max_pos, rot/2] with positions [T]
    ops.rope_write_kv(qkv [T, (Hq+2Hk)*D], Hq, Hk, D, positions, cos, sin, slot_mapping,
                      k_cache, v_cache, q_out [T, Hq, D], q_norm=None, k_norm=None, eps=1e-6)
                                # = native.rope_store_kv, plus Qwen3's q/k norms, one launch
    ops.silu_mul(x [..., 2I]) -> [..., I]
    ops.write_kv(key [T, Hk, D], value, k_cache, v_cache, slot_mapping [T])   # slot < 0: skipped
    ops.paged_decode_attention(q [T, Hq, D], k_cache, v_cache, block_tables [S, W] int32,
                               seq_lens [T] int32, scale, query_seq=None, out=None) -> [T, Hq, D]
                                # row i: first seq_lens[i] tokens of sequence query_seq[i] (or i);
                                # the engine's token_ctx / token_seq as they are
    ops.fused_moe(x [T, H], router_logits [T, E], w13 [E, 2I, H], w2 [E, H, I], top_k,
                  renormalize=True, shared=SharedExpert(w13, w2, gate=None)) -> [T, H]
    kernels.fused_moe.fused_experts(x, w13, w2, topk_weights [T, k] f32, topk_ids [T, k])
                                # any router's output (ids outside [0, E) add nothing)

KV cache layout (``kernels.kv_cache``): ``[num_blocks, block_size, num_kv_heads, head_dim]`` per
layer for K and for V; ``slot = block * block_size + offset``. All ops are CUDA-graph safe: no host
synchronisation, sizes derived from tensor shapes only.

Modules: ``int4_gemm`` (W4A16 GEMV/GEMM), ``moe_routing`` (top-k, align block size), ``fused_moe``,
``rms_norm``, ``rotary``, ``rope_write_kv``, ``silu_mul``, ``kv_cache``, ``paged_attention``. Tools:
``python -m kernels.bench [--json] [--smoke]`` (H200 figures; ``--smoke`` on the CPU interpreter)
and ``python -m kernels.compile_check`` (compile all kernels for sm_90 without a GPU).
"""
