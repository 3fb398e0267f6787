"""``python -m kernels.compile_check``: compile every kernel for a GPU architecture, no GPU needed.

The interpreter checks what kernels compute but not whether they compile for a real GPU; Triton's
wheel ships ``ptxas``, so each kernel is compiled here to a cubin (default sm_90, the H200) with the
tile configurations the wrappers pick at decode and prefill shapes, and its register and spill
counts are read back with ``cuobjdump`` and its PTX global loads counted by width. Must run without ``TRITON_INTERPRET``.
Like the JIT at run time, pointers are taken as 16-byte aligned and integers typed ``i32:16`` as
multiples of 16 (real shapes and strides are); that decides vector widths.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from kernels import (
    fused_moe,
    int4_gemm,
    kv_cache,
    moe_routing,
    paged_attention,
    rms_norm,
    rope_write_kv,
    rotary,
)
from kernels import silu_mul as silu

P_BF16, P_F16, P_F32, P_U8, P_I32, P_I64 = "*bf16", "*fp16", "*fp32", "*u8", "*i32", "*i64"


def _gemm_args(cfg: int4_gemm.Int4Config, dtype: str = P_BF16) -> dict:
    args = {"x_ptr": dtype, "q_ptr": P_U8, "s_ptr": P_F16, "m_ptr": P_F16, "y_ptr": P_F32}
    if cfg.block_m > 1:
        args["M"] = "i32"
    args |= {"N": "i32:16", "K": "i32:16", "stride_xm": "i32:16", "stride_ym": "i32:16"}
    args |= {"KB": "i32:16", "KG": "i32:16"}
    args |= {"GROUP": 32, "BLOCK_N": cfg.block_n, "BLOCK_K": cfg.block_k, "SPLIT_K": cfg.split_k}
    if cfg.block_m > 1:
        args |= {"BLOCK_M": cfg.block_m, "GROUP_M": 8, "DOT_F32": dtype == P_F32}
    return args


def _moe_args(cfg: fused_moe.MoEConfig, gated: bool) -> dict:
    ptrs = ("a_ptr", "q_ptr", "s_ptr", "m_ptr", "c_ptr", "route_w_ptr", "sorted_ptr")
    types = (P_BF16, P_U8, P_F16, P_F16, P_BF16, P_F32, P_I32)
    args = dict(zip(ptrs, types, strict=True)) | {"expert_ptr": P_I32, "num_padded_ptr": P_I32}
    strides = ("stride_am", "stride_cm", "stride_qe", "stride_se", "KB", "KG")
    args |= {n: "i32:16" for n in ("N", "K", *strides)} | {"pairs": "i32"}
    args |= {"A_DIV": 8 if gated else 1, "GATED": gated, "ROUTED": not gated, "GROUP": 32}
    return args | {
        "BLOCK_M": cfg.block_m,
        "BLOCK_N": cfg.block_n,
        "BLOCK_K": cfg.block_k,
        "DOT_F32": False,
    }


def _attention_args(splits: int, group: int) -> dict:
    args = {"q_ptr": P_BF16, "kc_ptr": P_BF16, "vc_ptr": P_BF16, "bt_ptr": P_I32, "len_ptr": P_I32}
    args |= {"qseq_ptr": P_I32, "HAS_QUERY_SEQ": splits == 1}
    args |= {"out_ptr": P_BF16, "po_ptr": P_F32, "plse_ptr": P_F32, "qk_scale": "fp32"}
    names = ("head_dim", "block_size", "sq0", "sq1", "sc_block", "sc_tok", "sc_head", "so0", "so1")
    args |= {n: "i32:16" for n in names} | {"group": "i32", "sbt": "i32"}
    return args | {
        "SPLITS": splits,
        "PARTITION": 256,
        "BLOCK_N": 32,
        "BLOCK_H": max(16, group),
        "BLOCK_D": 128,
        "DOT_F32": False,
    }


def targets() -> list[tuple[str, object, dict, dict]]:
    """(label, kernel, arguments (type strings, or constexpr values), launch options)."""
    sms = 132
    out = []
    for m, n, k in ((1, 4096, 4096), (1, 28672, 4096), (16, 28672, 4096), (2048, 4096, 14336)):
        cfg = int4_gemm.default_config(m, n, k, 32, sms)
        kernel = int4_gemm._int4_gemv_kernel if cfg.block_m == 1 else int4_gemm._int4_gemm_kernel
        opts = {"num_warps": cfg.num_warps, "num_stages": cfg.num_stages}
        out.append((f"int4_gemm m={m} {cfg}", kernel, _gemm_args(cfg), opts))
    fp32_cfg = int4_gemm.default_config(9, 64, 64, 32, sms)
    out.append(("int4_gemm fp32", int4_gemm._int4_gemm_kernel, _gemm_args(fp32_cfg, P_F32), {}))
    for pairs in (8, 512, 16384):
        for gated, (n, k) in ((True, (768, 2048)), (False, (2048, 768))):
            cfg = fused_moe.default_moe_config(pairs, 128, n, k, 32)
            opts = {"num_warps": cfg.num_warps, "num_stages": cfg.num_stages}
            label = f"moe_gemm pairs={pairs} {'up' if gated else 'down'} {cfg}"
            out.append((label, fused_moe._moe_gemm_kernel, _moe_args(cfg, gated), opts))
    moe_sum = {"down_ptr": P_BF16, "ids_ptr": P_I32, "out_ptr": P_BF16, "hidden": "i32:16"}
    moe_sum |= {"num_experts": "i32:16", "TOP_K": 8, "BLOCK_K": 8, "BLOCK": 1024}
    out.append(("moe_sum", fused_moe._moe_sum_kernel, moe_sum, {}))
    topk = {
        "logits_ptr": P_BF16,
        "w_ptr": P_F32,
        "id_ptr": P_I32,
        "experts": "i32:16",
        "stride_l": "i32:16",
    }
    topk |= {"TOP_K": 8, "RENORM": True, "BLOCK_E": 128, "BLOCK_K": 8}
    out.append(("topk_softmax", moe_routing._topk_softmax_kernel, topk, {}))
    align = {
        "ids_ptr": P_I32,
        "sorted_ptr": P_I32,
        "expert_ids_ptr": P_I32,
        "num_padded_ptr": P_I32,
    }
    align |= {"pairs": "i32", "num_experts": "i32:16", "size": "i32", "blocks": "i32"}
    align |= {"BLOCK_SIZE": 16, "E_PAD": 128, "CHUNK": 128}
    out.append(("moe_align", moe_routing._moe_align_kernel, align, {"num_warps": 8}))
    for splits, group in ((1, 8), (8, 4)):
        out.append(
            (
                f"paged_decode splits={splits} group={group}",
                paged_attention._paged_decode_kernel,
                _attention_args(splits, group),
                {"num_stages": paged_attention.PAGED_DECODE_STAGES},
            )
        )
    merge = {"po_ptr": P_F32, "plse_ptr": P_F32, "len_ptr": P_I32, "out_ptr": P_BF16}
    merge |= {"head_dim": "i32:16", "so0": "i32:16", "so1": "i32:16"}
    merge |= {"SPLITS": 8, "PARTITION": 256, "BLOCK_S": 8, "BLOCK_D": 128}
    out.append(("merge_partitions", paged_attention._merge_partitions_kernel, merge, {}))
    norm = {"x_ptr": P_BF16, "r_ptr": P_BF16, "w_ptr": P_BF16, "y_ptr": P_BF16, "hidden": "i32:16"}
    norm |= {"eps": "fp32"} | {n: "i32:16" for n in ("sx0", "sx1", "sr0", "sr1", "sy0", "sy1")}
    norm |= {"HAS_RESIDUAL": True, "BLOCK": 4096}
    out.append(("rms_norm", rms_norm._rms_norm_kernel, norm, {"num_warps": 8}))
    rope = {"q_ptr": P_BF16, "k_ptr": P_BF16, "cos_ptr": P_F32, "sin_ptr": P_F32, "pos_ptr": P_I64}
    rope |= {n: "i32:16" for n in ("hq", "half", "sq0", "sq1", "sk0", "sk1", "sc0")} | {"hk": "i32"}
    rope |= {"HAS_POS": True, "BLOCK_H": 32, "BLOCK_R": 64}
    out.append(("rotary", rotary._rotary_kernel, rope, {}))
    act = {
        "x_ptr": P_BF16,
        "y_ptr": P_BF16,
        "inter": "i32:16",
        "stride_x": "i32:16",
        "stride_y": "i32:16",
    }
    out.append(("silu_mul", silu._silu_mul_kernel, act | {"BLOCK": 1024}, {}))
    kv = {"k_ptr": P_BF16, "v_ptr": P_BF16, "kc_ptr": P_BF16, "vc_ptr": P_BF16, "slot_ptr": P_I64}
    kv |= {n: "i32:16" for n in ("head_dim", "block_size", "sk0", "sk1", "sv0", "sv1")}
    kv |= {"heads": "i32", "sc_block": "i32:16", "sc_tok": "i32:16", "sc_head": "i32:16"}
    kv |= {"BLOCK_H": 8, "BLOCK_D": 128}
    out.append(("write_kv", kv_cache._write_kv_kernel, kv, {}))
    fused = {"qkv_ptr": P_BF16, "q_ptr": P_BF16, "kc_ptr": P_BF16, "vc_ptr": P_BF16}
    fused |= {"cos_ptr": P_F32, "sin_ptr": P_F32, "pos_ptr": P_I64, "slot_ptr": P_I64}
    fused |= {
        n: "i32:16" for n in ("heads", "head_dim", "half", "block_size", "s_qkv", "sq0", "sq1")
    }
    fused |= {n: "i32:16" for n in ("sc0", "sc_block", "sc_tok", "sc_head")} | {"kv_heads": "i32"}
    fused |= {"qn_ptr": P_BF16, "kn_ptr": P_BF16, "eps": "fp32", "NORM": True}
    fused |= {"BLOCK_H": 32, "BLOCK_R": 64, "BLOCK_D": 128}
    out.append(("rope_write_kv", rope_write_kv._rope_write_kv_kernel, fused, {}))
    return out


def compile_one(kernel, args: dict, options: dict, arch: int) -> dict:
    signature = {
        k: (v.split(":")[0] if isinstance(v, str) else "constexpr") for k, v in args.items()
    }
    constexprs = {k: v for k, v in args.items() if not isinstance(v, str)}
    if set(args) != set(kernel.arg_names):
        raise ValueError(f"arguments differ from the kernel's: {set(args) ^ set(kernel.arg_names)}")
    aligned = [
        kernel.arg_names.index(name)
        for name, v in args.items()
        if isinstance(v, str) and (v.startswith("*") or v.endswith(":16"))
    ]
    attrs = {(i,): [["tt.divisibility", 16]] for i in aligned}
    src = ASTSource(fn=kernel, signature=signature, constexprs=constexprs, attrs=attrs)
    compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32), options=options)
    loads = Counter(
        re.findall(
            r"(?:ld\.global|cp\.async\.c[ag]\.shared\.global)(?:\.\w+)*", compiled.asm["ptx"]
        )
    )
    return {
        "shared_bytes": compiled.metadata.shared,
        **_resource_usage(compiled.asm["cubin"]),
        "global_loads": dict(loads),
    }


def _resource_usage(cubin: bytes) -> dict:
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as fh:
        fh.write(cubin)
        fh.flush()
        text = subprocess.run(  # noqa: S603 - the cuobjdump shipped with triton
            [tool, "--dump-resource-usage", fh.name], capture_output=True, text=True, check=True
        ).stdout
    regs = re.search(r"REG:(\d+)", text)
    spill = re.search(r"STACK:(\d+)", text)
    return {
        "registers": int(regs.group(1)) if regs else None,
        "stack": int(spill.group(1)) if spill else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels.compile_check")
    parser.add_argument("--arch", type=int, default=90, help="compute capability, e.g. 90 or 80")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("unset TRITON_INTERPRET: interpreted kernels cannot be compiled", file=sys.stderr)
        return 2
    failures = 0
    for label, kernel, kernel_args, options in targets():
        try:
            row = {"kernel": label, **compile_one(kernel, kernel_args, options, args.arch)}
        except Exception as exc:  # noqa: BLE001 - report every kernel, then fail
            failures += 1
            row = {"kernel": label, "error": f"{type(exc).__name__}: {exc}"[:800]}
        print(json.dumps(row), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
