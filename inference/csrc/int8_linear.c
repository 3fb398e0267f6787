/* Linear layers with integer dot products (AVX-512 VNNI, or AVX2) against activations held as two
 * int8 digits.
 *
 * Each row of x is quantized per 32 columns: with s = max|x| / 127, x ~ s * (q1 + q2 / 128) where
 * q1 = round(x / s) and q2 = round(128 * (x / s - q1)), both int8. One digit (what llama.cpp does)
 * loses too much on this model family's activation outliers; two keep the error near 3e-5 of the
 * block maximum at twice the integer work, still far below float32 FMAs per weight. Weights are
 * 4-bit codes with a scale and a minimum per 32 columns (Q4_0/Q4_1 and other group-32 int4) or
 * int8 with a scale per 32 columns (Q8_0). Per 128-column super-block (SB) the integer products
 * are summed by vpdpbusd into 16 lanes of 8 columns, combined as 128 * I(q1) + I(q2), then scaled:
 *     y[m, n] = sum_SB sum_lane I * (s / 128) * d  +  sum_groups min * (exact float sum of x)
 * Every output is one accumulation chain in a fixed order, whatever the number of rows, so results
 * are batch invariant, as in cpu_ops.c.
 *
 * Layouts (built once at load by inference/layers/linear.py), per row, per SB:
 *   lane k (0..15) holds columns 8k..8k+7; a vpdpbusd step s (0, 1) takes columns 8k+4s..8k+4s+3.
 *   q4: 4 bytes per lane, byte b = code(8k+b) | code(8k+4+b) << 4      (64 bytes per SB)
 *   q8: step 0 then step 1, 4 bytes per lane each, stored as w + 128     (128 bytes per SB)
 * A last, partial SB (K % 128 columns) keeps only its lanes; nothing is padded in memory.
 *
 * Without VNNI (AVX2) a vpdpbusd step is vpmaddubsw (pairs of u8 * s8 into int16) and vpmaddwd
 * (pairs of int16 into int32) on each 256-bit half of the 16 lanes, as llama.cpp does. The int16
 * sums cannot saturate for q4 (2 * 15 * 127 per pair, two steps added); q8 weights are taken back
 * to signed (w + 128 ^ 0x80), multiplied as |w| * (x with w's sign) (at most 2 * 128 * 127 per
 * pair) and widened step by step, so that the offset correction is not needed. Calls of several
 * rows hold x as one int16 (128 * q1 + q2) instead and widen the weights (tile_wide). The integer
 * dot products are the same, and so is every float operation on them, in the same order per lane:
 * every path gives the same bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

enum { Q4H, Q4F, Q8 };
#ifndef PREFETCH_ROWS
#define PREFETCH_ROWS 8
#endif

/* Per row: both digits of x in step order, s / 128 per lane, the exact group sums and, for the
 * unsigned-offset q8 weights, 128 * (each lane's sum of 128 * q1 + q2). */
typedef struct {
    int8_t *q;     /* [M, nsb * 256]: per SB, q1 (steps 0, 1) then q2 (steps 0, 1) */
    float *sx;     /* [M, nsb * 16]  */
    float *xs;     /* [M, nsb * 4]   */
    int32_t *corr; /* [M, nsb * 16]  */
    int64_t nsb;
#ifdef SIMD_AVX2
    int wide; /* q holds 128 * q1 + q2 as int16 in the layout of tile_wide (calls of several rows) */
#endif
} ActQ;

typedef struct {
    const float *x;
    int64_t K;
    ActQ *a;
} QuantArgs;

#ifdef SIMD_AVX512

static void quantize_row(void *args, int64_t m) {
    const QuantArgs *qa = args;
    const float *x = qa->x;
    const int64_t K = qa->K;
    ActQ *a = qa->a;
    int64_t nsb = a->nsb;
    {
        for (int64_t j = 0; j < nsb; j++) {
            int8_t tmp[256] __attribute__((aligned(64))); /* q1 then q2, natural column order */
            float sx[16];
            memset(tmp, 0, sizeof tmp);
            for (int g = 0; g < 4; g++) {
                int64_t c = j * 128 + g * 32;
                float d = 0.0f, sum = 0.0f;
                if (c < K) {
                    __m512 v0 = _mm512_loadu_ps(x + m * K + c), v1 = _mm512_loadu_ps(x + m * K + c + 16);
                    __m512 amax = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
                    d = _mm512_reduce_max_ps(amax) / 127.0f;
                    __m512 id = _mm512_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
                    for (int h = 0; h < 2; h++) {
                        __m512 u = _mm512_mul_ps(h ? v1 : v0, id);
                        __m512i q1 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(u), _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
                        __m512 r = _mm512_mul_ps(_mm512_sub_ps(u, _mm512_cvtepi32_ps(q1)), _mm512_set1_ps(128.0f));
                        _mm_storeu_si128((__m128i *)(tmp + g * 32 + h * 16), _mm512_cvtsepi32_epi8(q1));
                        _mm_storeu_si128((__m128i *)(tmp + 128 + g * 32 + h * 16), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(r)));
                    }
                    sum = _mm512_reduce_add_ps(_mm512_add_ps(v0, v1));
                    d *= 1.0f / 128.0f;
                }
                a->xs[m * nsb * 4 + j * 4 + g] = sum;
                for (int k = 0; k < 4; k++) sx[g * 4 + k] = d;
            }
            /* dwords 2k + s of the natural order go to lane k of step s */
            __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
            __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
            __m512i ones = _mm512_set1_epi8(1), lane_sum[2];
            int8_t *dst = a->q + (m * nsb + j) * 256;
            for (int digit = 0; digit < 2; digit++) {
                __m512i lo = _mm512_load_si512(tmp + 128 * digit), hi = _mm512_load_si512(tmp + 128 * digit + 64);
                __m512i s0 = _mm512_permutex2var_epi32(lo, even, hi), s1 = _mm512_permutex2var_epi32(lo, odd, hi);
                _mm512_storeu_si512(dst + 128 * digit, s0);
                _mm512_storeu_si512(dst + 128 * digit + 64, s1);
                lane_sum[digit] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, s0), ones, s1);
            }
            _mm512_storeu_ps(a->sx + (m * nsb + j) * 16, _mm512_loadu_ps(sx));
            __m512i corr = _mm512_add_epi32(_mm512_slli_epi32(lane_sum[0], 14), _mm512_slli_epi32(lane_sum[1], 7));
            _mm512_storeu_si512(a->corr + (m * nsb + j) * 16, corr);
        }
    }
}

#else /* AVX2: the same quantization and products, 256 bits at a time */

/* 16 int32 (a: 0..7, b: 8..15) -> 16 int8 in order, saturating as vpmovsdb does */
static inline __attribute__((always_inline)) __m128i pack_i8(__m256i a, __m256i b) {
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

static void quantize_row(void *args, int64_t m) {
    const QuantArgs *qa = args;
    const float *x = qa->x;
    const int64_t K = qa->K;
    ActQ *a = qa->a;
    int64_t nsb = a->nsb;
    for (int64_t j = 0; j < nsb; j++) {
        int8_t tmp[256] __attribute__((aligned(32))); /* q1 then q2, natural column order */
        float sx[16];
        memset(tmp, 0, sizeof tmp);
        for (int g = 0; g < 4; g++) {
            int64_t c = j * 128 + g * 32;
            float d = 0.0f, sum = 0.0f;
            if (c < K) {
                vf v0 = vf_load(x + m * K + c), v1 = vf_load(x + m * K + c + 16);
                d = vf_reduce_max(vf_max(vf_abs(v0), vf_abs(v1))) / 127.0f;
                __m256 id = _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
                for (int h = 0; h < 2; h++) {
                    vf v = h ? v1 : v0;
                    __m256i q1[2], q2[2];
                    for (int k = 0; k < 2; k++) {
                        __m256 u = _mm256_mul_ps(k ? v.hi : v.lo, id);
                        q1[k] = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(u), _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
                        __m256 r = _mm256_mul_ps(_mm256_sub_ps(u, _mm256_cvtepi32_ps(q1[k])), _mm256_set1_ps(128.0f));
                        q2[k] = _mm256_cvtps_epi32(r);
                    }
                    _mm_storeu_si128((__m128i *)(tmp + g * 32 + h * 16), pack_i8(q1[0], q1[1]));
                    _mm_storeu_si128((__m128i *)(tmp + 128 + g * 32 + h * 16), pack_i8(q2[0], q2[1]));
                }
                sum = vf_reduce_add(vf_add(v0, v1));
                d *= 1.0f / 128.0f;
            }
            a->xs[m * nsb * 4 + j * 4 + g] = sum;
            for (int k = 0; k < 4; k++) sx[g * 4 + k] = d;
        }
        int8_t *dst = a->q + (m * nsb + j) * 256;
        if (a->wide) {
            /* x16 = 128 * q1 + q2 (|x16| <= 16320), natural order in n[0..7]; per half h, vector i
             * holds in its dword k the columns 64h + 8k + 2i, +1 (the dwords 32h + 4k + i) */
            __m256i n[8];
            for (int v = 0; v < 8; v++) {
                __m256i d1 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(tmp + 16 * v)));
                __m256i d2 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(tmp + 128 + 16 * v)));
                /* dwords (k = 2v', i = 0..3), (k = 2v' + 1, i = 0..3) -> i-major qword pairs */
                n[v] = _mm256_permutevar8x32_epi32(_mm256_add_epi16(_mm256_slli_epi16(d1, 7), d2),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            }
            __m256i *out = (__m256i *)dst;
            for (int h = 0; h < 2; h++) {
                const __m256i *p = n + 4 * h;
                __m256i lo01 = _mm256_unpacklo_epi64(p[0], p[1]), lo23 = _mm256_unpacklo_epi64(p[2], p[3]);
                __m256i hi01 = _mm256_unpackhi_epi64(p[0], p[1]), hi23 = _mm256_unpackhi_epi64(p[2], p[3]);
                _mm256_storeu_si256(out + 4 * h + 0, _mm256_permute2x128_si256(lo01, lo23, 0x20));
                _mm256_storeu_si256(out + 4 * h + 1, _mm256_permute2x128_si256(hi01, hi23, 0x20));
                _mm256_storeu_si256(out + 4 * h + 2, _mm256_permute2x128_si256(lo01, lo23, 0x31));
                _mm256_storeu_si256(out + 4 * h + 3, _mm256_permute2x128_si256(hi01, hi23, 0x31));
            }
            vf_store(a->sx + (m * nsb + j) * 16, vf_load(sx));
            continue;
        }
        /* dwords 2k + s of the natural order go to lane k of step s */
        const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        for (int digit = 0; digit < 2; digit++) {
            __m256i p[4];
            for (int i = 0; i < 4; i++)
                p[i] = _mm256_permutevar8x32_epi32(_mm256_load_si256((const __m256i *)(tmp + 128 * digit + 32 * i)), split);
            __m256i *out = (__m256i *)(dst + 128 * digit);
            _mm256_storeu_si256(out, _mm256_permute2x128_si256(p[0], p[1], 0x20));     /* step 0, lanes 0..7 */
            _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(p[2], p[3], 0x20)); /* step 0, lanes 8..15 */
            _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(p[0], p[1], 0x31)); /* step 1, lanes 0..7 */
            _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(p[2], p[3], 0x31)); /* step 1, lanes 8..15 */
        }
        vf_store(a->sx + (m * nsb + j) * 16, vf_load(sx)); /* corr: q8 needs none here */
    }
}

#endif

static void quantize_rows(const float *x, int64_t M, int64_t K, ActQ *a) {
    QuantArgs args = {x, K, a};
    if (M > 8) {
        pool_run(M, quantize_row, &args);
    } else {
        for (int64_t m = 0; m < M; m++) quantize_row(&args, m);
    }
}

#ifdef SIMD_AVX512

static inline __attribute__((always_inline)) __m512 expand4(__m128 v) {
    const __m512i idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

/* 4 (or fewer, at the tail) consecutive per-group values of one row as a lane vector. */
static inline __attribute__((always_inline)) __m512 group_vec(int f16, const void *p, int64_t i, int ng) {
    __mmask8 mk = (__mmask8)((1u << ng) - 1u);
    __m128 v = f16 ? _mm_cvtph_ps(_mm_maskz_loadu_epi16(mk, (const uint16_t *)p + i))
                   : _mm_maskz_loadu_ps(mk, (const float *)p + i);
    return expand4(v);
}

static inline __attribute__((always_inline)) void
tile_i8(int kind, int R, int C, const ActQ *a, int64_t K, const uint8_t *w, const void *sc,
        const void *mn, const float *bias, int64_t m0, int64_t n0, float *y, int64_t ldy) {
    const int f16 = kind != Q4F;
    const int64_t nsb = a->nsb, ngroups = K / 32;
    const int64_t row_bytes = kind == Q8 ? K : K / 2;
    __m512 acc[8][4];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < nsb; j++) {
        int64_t cols = K - j * 128 < 128 ? K - j * 128 : 128;
        int lanes = (int)(cols / 8);
        __mmask64 mk = lanes == 16 ? ~(__mmask64)0 : (((__mmask64)1 << (4 * lanes)) - 1);
        __m512i w0[4], w1[4];
        __m512 dv[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
            const uint8_t *p = w + (n0 + c) * row_bytes + j * (kind == Q8 ? 128 : 64);
            /* the next rows' bytes of this SB (q8: both its lines): L3 latency, not bandwidth,
             * bounds a lone row */
            if (PREFETCH_ROWS) {
                _mm_prefetch((const char *)(p + PREFETCH_ROWS * row_bytes), _MM_HINT_T0);
                if (kind == Q8) _mm_prefetch((const char *)(p + 64 + PREFETCH_ROWS * row_bytes), _MM_HINT_T0);
            }
            if (kind == Q8) {
                w0[c] = _mm512_maskz_loadu_epi8(mk, p);
                w1[c] = _mm512_maskz_loadu_epi8(mk, p + 4 * lanes);
            } else {
                __m512i b = _mm512_maskz_loadu_epi8(mk, p);
                __m512i nib = _mm512_set1_epi8(0x0F);
                w0[c] = _mm512_and_si512(b, nib);
                w1[c] = _mm512_and_si512(_mm512_srli_epi16(b, 4), nib);
            }
            dv[c] = group_vec(f16, sc, (n0 + c) * ngroups + j * 4, (int)(cols / 32));
        }
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
            const int8_t *xq = a->q + ((m0 + r) * nsb + j) * 256;
            __m512i xa = _mm512_loadu_si512(xq), xb = _mm512_loadu_si512(xq + 64);
            __m512i xc = _mm512_loadu_si512(xq + 128), xd = _mm512_loadu_si512(xq + 192);
            __m512 sx = _mm512_loadu_ps(a->sx + ((m0 + r) * nsb + j) * 16);
            __m512i corr = kind == Q8 ? _mm512_loadu_si512(a->corr + ((m0 + r) * nsb + j) * 16) : _mm512_setzero_si512();
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
                __m512i hi = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w0[c], xa), w1[c], xb);
                __m512i lo = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w0[c], xc), w1[c], xd);
                __m512i dot = _mm512_add_epi32(_mm512_slli_epi32(hi, 7), lo);
                if (kind == Q8) dot = _mm512_sub_epi32(dot, corr);
                acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(dot), sx), dv[c], acc[r][c]);
            }
        }
    }
    if (kind != Q8) { /* the minimum times the exact sum of x over each group */
        for (int64_t g = 0; g < ngroups; g += 16) {
            int cnt = ngroups - g < 16 ? (int)(ngroups - g) : 16;
            __mmask16 mk = (__mmask16)((1u << cnt) - 1u);
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
                const int64_t i = (n0 + c) * ngroups + g;
                __m512 mv = f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)mn + i))
                                : _mm512_maskz_loadu_ps(mk, (const float *)mn + i);
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
                    __m512 xs = _mm512_maskz_loadu_ps(mk, a->xs + (m0 + r) * nsb * 4 + g);
                    acc[r][c] = _mm512_fmadd_ps(mv, xs, acc[r][c]);
                }
            }
        }
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)
            y[(m0 + r) * ldy + n0 + c] = _mm512_reduce_add_ps(acc[r][c]) + (bias ? bias[n0 + c] : 0.0f);
}

#else /* AVX2 */

/* 4 (or fewer, at the tail) consecutive per-group values of one row, each repeated over 4 lanes:
 * groups 0, 1 in lo (lanes 0..7), 2, 3 in hi; zeros past ng. No library calls in here or in
 * load16: a call would make the accumulators live in memory (every ymm is call-clobbered). */
static inline __attribute__((always_inline)) void
group_vec(int f16, const void *p, int64_t i, int ng, __m256 *lo, __m256 *hi) {
    __m128 v;
    if (f16) {
        const uint16_t *h = (const uint16_t *)p + i;
        __m128i b;
        if (ng == 4) {
            b = _mm_loadl_epi64((const __m128i *)h);
        } else {
            b = _mm_cvtsi32_si128(h[0]);
            if (ng > 1) b = _mm_insert_epi16(b, h[1], 1);
            if (ng > 2) b = _mm_insert_epi16(b, h[2], 2);
        }
        v = _mm_cvtph_ps(b);
    } else {
        const float *f = (const float *)p + i;
        v = ng == 4 ? _mm_loadu_ps(f)
                    : _mm_maskload_ps(f, _mm_cmpgt_epi32(_mm_set1_epi32(ng), _mm_setr_epi32(0, 1, 2, 3)));
    }
    __m256 v8 = _mm256_castps128_ps256(v);
    *lo = _mm256_permutevar8x32_ps(v8, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
    *hi = _mm256_permutevar8x32_ps(v8, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3));
}

/* The first n (< 8) of 8 f16 values at h, zeros after */
static inline __attribute__((always_inline)) __m128i load_f16_first(const uint16_t *h, int n) {
    __m128i b = _mm_setzero_si128();
    switch (n) {
    case 7: b = _mm_insert_epi16(b, h[6], 6); /* fall through */
    case 6: b = _mm_insert_epi16(b, h[5], 5); /* fall through */
    case 5: b = _mm_insert_epi16(b, h[4], 4); /* fall through */
    case 4: b = _mm_insert_epi16(b, h[3], 3); /* fall through */
    case 3: b = _mm_insert_epi16(b, h[2], 2); /* fall through */
    case 2: b = _mm_insert_epi16(b, h[1], 1); /* fall through */
    case 1: b = _mm_insert_epi16(b, h[0], 0); /* fall through */
    default: break;
    }
    return b;
}

/* 16 values of one row from p + i, cnt (<= 16) of them, zeros past cnt */
static inline __attribute__((always_inline)) vf load16(int f16, const void *p, int64_t i, int cnt) {
    if (!f16) return vf_maskz_load(vmask_first(cnt), (const float *)p + i);
    const uint16_t *h = (const uint16_t *)p + i;
    __m128i b0, b1;
    if (cnt == 16) {
        b0 = _mm_loadu_si128((const __m128i *)h);
        b1 = _mm_loadu_si128((const __m128i *)(h + 8));
    } else if (cnt >= 8) {
        b0 = _mm_loadu_si128((const __m128i *)h);
        b1 = load_f16_first(h + 8, cnt - 8);
    } else {
        b0 = load_f16_first(h, cnt);
        b1 = _mm_setzero_si128();
    }
    return (vf){_mm256_cvtph_ps(b0), _mm256_cvtph_ps(b1)};
}

/* One half (8 lanes) of 128 * I(q1) + I(q2) for q4 codes w0 (step 0), w1 (step 1); x points at
 * the half's first byte of q1 step 0 in a row's SB (q1 step 1 at +64, q2 at +128 and +192). */
static inline __attribute__((always_inline)) __m256i dot_q4(__m256i w0, __m256i w1, const int8_t *x) {
    const __m256i *xv = (const __m256i *)x;
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w0, _mm256_loadu_si256(xv)),
                                 _mm256_maddubs_epi16(w1, _mm256_loadu_si256(xv + 2)));
    __m256i q = _mm256_add_epi16(_mm256_maddubs_epi16(w0, _mm256_loadu_si256(xv + 4)),
                                 _mm256_maddubs_epi16(w1, _mm256_loadu_si256(xv + 6)));
    return _mm256_add_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(128)), _mm256_madd_epi16(q, _mm256_set1_epi16(1)));
}

/* The same for signed q8 weights s0, s1: |s| * (x with the sign of s); each product pair may
 * reach 2 * 128 * 127, so every step widens on its own. */
static inline __attribute__((always_inline)) __m256i dot_q8(__m256i s0, __m256i s1, const int8_t *x) {
    const __m256i *xv = (const __m256i *)x;
    __m256i k128 = _mm256_set1_epi16(128), one = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_abs_epi8(s0), a1 = _mm256_abs_epi8(s1);
    __m256i h0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(_mm256_loadu_si256(xv), s0)), k128);
    __m256i h1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(_mm256_loadu_si256(xv + 2), s1)), k128);
    __m256i l0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(_mm256_loadu_si256(xv + 4), s0)), one);
    __m256i l1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(_mm256_loadu_si256(xv + 6), s1)), one);
    return _mm256_add_epi32(_mm256_add_epi32(h0, h1), _mm256_add_epi32(l0, l1));
}

/* Half h of one SB of one column's weights: w0, w1 = q4 codes of steps 0 and 1, or signed q8.
 * A full SB loads plainly; the tail SB (lanes < 16) loads the dwords of its lanes only. */
static inline __attribute__((always_inline)) void
weights_half(int kind, int full, const uint8_t *p, int lanes, int h, __m256i *w0, __m256i *w1) {
    __m256i m = _mm256_setzero_si256();
    if (!full)
        m = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes - 8 * h), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (kind == Q8) {
        const uint8_t *p1 = p + (full ? 64 : 4 * lanes); /* step 1 */
        __m256i r0 = full ? _mm256_loadu_si256((const __m256i *)(p + 32 * h)) : _mm256_maskload_epi32((const int *)(p + 32 * h), m);
        __m256i r1 = full ? _mm256_loadu_si256((const __m256i *)(p1 + 32 * h)) : _mm256_maskload_epi32((const int *)(p1 + 32 * h), m);
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        *w0 = _mm256_xor_si256(r0, flip);
        *w1 = _mm256_xor_si256(r1, flip);
    } else {
        __m256i b = full ? _mm256_loadu_si256((const __m256i *)(p + 32 * h)) : _mm256_maskload_epi32((const int *)(p + 32 * h), m);
        const __m256i nib = _mm256_set1_epi8(0x0F);
        *w0 = _mm256_and_si256(b, nib);
        *w1 = _mm256_and_si256(_mm256_srli_epi16(b, 4), nib);
    }
}

/* SB j of columns n0 .. n0 + C - 1 for rows m0 .. m0 + R - 1, into acc[r][c][half] */
static inline __attribute__((always_inline)) void
sb_i8(int kind, int R, int C, int full, const ActQ *a, int64_t K, const uint8_t *w, const void *sc,
      int64_t m0, int64_t n0, int64_t j, __m256 acc[8][4][2]) {
    const int f16 = kind != Q4F;
    const int64_t nsb = a->nsb, ngroups = K / 32;
    const int64_t row_bytes = kind == Q8 ? K : K / 2;
    const int lanes = full ? 16 : (int)((K - j * 128) / 8);
    __m256 dv[4][2];
    _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
        const uint8_t *p = w + (n0 + c) * row_bytes + j * (kind == Q8 ? 128 : 64);
        /* the next rows' bytes of this SB: L3 latency, not bandwidth, bounds a lone row */
        if (PREFETCH_ROWS) _mm_prefetch((const char *)(p + PREFETCH_ROWS * row_bytes), _MM_HINT_T0);
        group_vec(f16, sc, (n0 + c) * ngroups + j * 4, full ? 4 : lanes / 4, &dv[c][0], &dv[c][1]);
    }
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
            const uint8_t *p = w + (n0 + c) * row_bytes + j * (kind == Q8 ? 128 : 64);
            __m256i w0, w1;
            weights_half(kind, full, p, lanes, h, &w0, &w1);
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
                const int8_t *xq = a->q + ((m0 + r) * nsb + j) * 256 + 32 * h;
                const float *sx = a->sx + ((m0 + r) * nsb + j) * 16 + 8 * h;
                __m256i dot = kind == Q8 ? dot_q8(w0, w1, xq) : dot_q4(w0, w1, xq);
                acc[r][c][h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_loadu_ps(sx)), dv[c][h], acc[r][c][h]);
            }
        }
    }
}

static inline __attribute__((always_inline)) void
tile_i8(int kind, int R, int C, const ActQ *a, int64_t K, const uint8_t *w, const void *sc,
        const void *mn, const float *bias, int64_t m0, int64_t n0, float *y, int64_t ldy) {
    const int f16 = kind != Q4F;
    const int64_t nsb = a->nsb, ngroups = K / 32, nfull = K / 128;
    __m256 acc[8][4][2];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c][0] = acc[r][c][1] = _mm256_setzero_ps();
    for (int64_t j = 0; j < nfull; j++) sb_i8(kind, R, C, 1, a, K, w, sc, m0, n0, j, acc);
    if (nfull < nsb) sb_i8(kind, R, C, 0, a, K, w, sc, m0, n0, nfull, acc);
    if (kind != Q8) { /* the minimum times the exact sum of x over each group */
        for (int64_t g = 0; g < ngroups; g += 16) {
            int cnt = ngroups - g < 16 ? (int)(ngroups - g) : 16;
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
                vf mv = load16(f16, mn, (n0 + c) * ngroups + g, cnt);
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
                    vf xs = vf_maskz_load(vmask_first(cnt), a->xs + (m0 + r) * nsb * 4 + g);
                    acc[r][c][0] = _mm256_fmadd_ps(mv.lo, xs.lo, acc[r][c][0]);
                    acc[r][c][1] = _mm256_fmadd_ps(mv.hi, xs.hi, acc[r][c][1]);
                }
            }
        }
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)
            y[(m0 + r) * ldy + n0 + c] = vf_reduce_add((vf){acc[r][c][0], acc[r][c][1]}) + (bias ? bias[n0 + c] : 0.0f);
}

/* ---- several rows: 16-bit products ----------------------------------------------------------
 * With activations as x16 = 128 * q1 + q2 (int16, see quantize_row), a lane's dot product is four
 * vpmaddwd of int16 weights, each taking columns 8k + 2i, 8k + 2i + 1 of lane k, added: the same
 * integers as the two-digit products (|w * x16| <= 128 * 16320, four pairs < 2^31), with 4 instead
 * of 6 multiplies per 8 lanes (q8: 4 instead of 8 and no sign trick). Widening the weights costs
 * per column, so one-row calls keep the byte products of tile_i8. */

/* Half h of one SB of one column's weights as int16 W[i] = columns 8k + 2i, +1 of lane 8h + k */
static inline __attribute__((always_inline)) void
weights_wide(int kind, int full, const uint8_t *p, int lanes, int h, __m256i W[4]) {
    const __m256i b01 = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1,
                                         0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
    const __m256i b23 = _mm256_setr_epi8(2, -1, 3, -1, 6, -1, 7, -1, 10, -1, 11, -1, 14, -1, 15, -1,
                                         2, -1, 3, -1, 6, -1, 7, -1, 10, -1, 11, -1, 14, -1, 15, -1);
    __m256i m = _mm256_setzero_si256();
    if (!full)
        m = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes - 8 * h), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (kind == Q8) { /* bytes are w + 128; lanes past the tail load as 0, that is w = -128 (x is 0 there) */
        const uint8_t *p1 = p + (full ? 64 : 4 * lanes); /* step 1 */
        __m256i r0 = full ? _mm256_loadu_si256((const __m256i *)(p + 32 * h)) : _mm256_maskload_epi32((const int *)(p + 32 * h), m);
        __m256i r1 = full ? _mm256_loadu_si256((const __m256i *)(p1 + 32 * h)) : _mm256_maskload_epi32((const int *)(p1 + 32 * h), m);
        const __m256i k128 = _mm256_set1_epi16(128);
        W[0] = _mm256_sub_epi16(_mm256_shuffle_epi8(r0, b01), k128);
        W[1] = _mm256_sub_epi16(_mm256_shuffle_epi8(r0, b23), k128);
        W[2] = _mm256_sub_epi16(_mm256_shuffle_epi8(r1, b01), k128);
        W[3] = _mm256_sub_epi16(_mm256_shuffle_epi8(r1, b23), k128);
    } else {
        __m256i b = full ? _mm256_loadu_si256((const __m256i *)(p + 32 * h)) : _mm256_maskload_epi32((const int *)(p + 32 * h), m);
        __m256i t01 = _mm256_shuffle_epi8(b, b01), t23 = _mm256_shuffle_epi8(b, b23);
        const __m256i nib = _mm256_set1_epi16(0x0F);
        W[0] = _mm256_and_si256(t01, nib);
        W[1] = _mm256_and_si256(t23, nib);
        W[2] = _mm256_srli_epi16(t01, 4);
        W[3] = _mm256_srli_epi16(t23, 4);
    }
}

/* Lanes 8h .. 8h + 7 of SB j of columns n0 .. n0 + C - 1 for rows m0 .. m0 + R - 1 */
static inline __attribute__((always_inline)) void
sb_wide(int kind, int R, int C, int full, int h, const ActQ *a, int64_t K, const uint8_t *w,
        const void *sc, int64_t m0, int64_t n0, int64_t j, __m256 acc[8][4]) {
    const int f16 = kind != Q4F;
    const int64_t nsb = a->nsb, ngroups = K / 32;
    const int64_t row_bytes = kind == Q8 ? K : K / 2;
    const int lanes = full ? 16 : (int)((K - j * 128) / 8);
    _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
        const uint8_t *p = w + (n0 + c) * row_bytes + j * (kind == Q8 ? 128 : 64);
        __m256 dv[2];
        group_vec(f16, sc, (n0 + c) * ngroups + j * 4, full ? 4 : lanes / 4, &dv[0], &dv[1]);
        __m256i W[4];
        weights_wide(kind, full, p, lanes, h, W);
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
            const __m256i *x = (const __m256i *)(a->q + ((m0 + r) * nsb + j) * 256) + 4 * h;
            __m256i d01 = _mm256_add_epi32(_mm256_madd_epi16(W[0], _mm256_loadu_si256(x)),
                                           _mm256_madd_epi16(W[1], _mm256_loadu_si256(x + 1)));
            __m256i d23 = _mm256_add_epi32(_mm256_madd_epi16(W[2], _mm256_loadu_si256(x + 2)),
                                           _mm256_madd_epi16(W[3], _mm256_loadu_si256(x + 3)));
            const float *sx = a->sx + ((m0 + r) * nsb + j) * 16 + 8 * h;
            acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(d01, d23)), _mm256_loadu_ps(sx)), dv[h], acc[r][c]);
        }
    }
}

/* Each lane's chain is that of tile_i8 (super-blocks in order, then the minimum terms); lanes
 * 0..7 run to the end first, then lanes 8..15, so only half the accumulators are live. */
static inline __attribute__((always_inline)) void
tile_wide(int kind, int R, int C, const ActQ *a, int64_t K, const uint8_t *w, const void *sc,
          const void *mn, const float *bias, int64_t m0, int64_t n0, float *y, int64_t ldy) {
    const int f16 = kind != Q4F;
    const int64_t nsb = a->nsb, ngroups = K / 32, nfull = K / 128;
    __m256 lanes_lo[8][4];
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
        __m256 acc[8][4];
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
        for (int64_t j = 0; j < nfull; j++) sb_wide(kind, R, C, 1, h, a, K, w, sc, m0, n0, j, acc);
        if (nfull < nsb) sb_wide(kind, R, C, 0, h, a, K, w, sc, m0, n0, nfull, acc);
        if (kind != Q8) {
            for (int64_t g = 0; g < ngroups; g += 16) {
                int cnt = ngroups - g < 16 ? (int)(ngroups - g) : 16;
                _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
                    vf mv = load16(f16, mn, (n0 + c) * ngroups + g, cnt);
                    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
                        vf xs = vf_maskz_load(vmask_first(cnt), a->xs + (m0 + r) * nsb * 4 + g);
                        acc[r][c] = _mm256_fmadd_ps(h ? mv.hi : mv.lo, h ? xs.hi : xs.lo, acc[r][c]);
                    }
                }
            }
        }
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {
                if (h)
                    y[(m0 + r) * ldy + n0 + c] = vf_reduce_add((vf){lanes_lo[r][c], acc[r][c]}) + (bias ? bias[n0 + c] : 0.0f);
                else
                    lanes_lo[r][c] = acc[r][c];
            }
    }
}

/* Tile shapes (rows x columns; measured on AMD Zen 3): several rows take tile_wide, R0 x C0
 * (then 2 x C2, 1 x C2); a single row tile_i8 with C1 columns (q8: C1Q8). */
#ifndef I8_R0
#define I8_R0 8
#define I8_C0 1
#define I8_C2 2
#define I8_C1 4
#define I8_C1Q8 1
#endif

#endif

#define N_CHUNK 16
/* Columns [n_lo, n_hi) for rows [m0, m0 + R) with the tile function `fn`: full C-wide tiles, then
 * single columns. */
#define TILE_ROW(fn, kind, R, C)                                                               \
    do {                                                                                       \
        int64_t n = n_lo;                                                                      \
        for (; n + C <= n_hi; n += C) fn(kind, R, C, a, K, w, sc, mn, bias, m0, n, y, ldy);    \
        for (; n < n_hi; n++) fn(kind, R, 1, a, K, w, sc, mn, bias, m0, n, y, ldy);            \
    } while (0)

typedef struct {
    const ActQ *a;
    const uint8_t *w;
    const void *sc, *mn;
    const float *bias;
    int64_t M, K, N, ldy;
    float *y;
} I8Args;

static inline __attribute__((always_inline)) void chunk_i8(int kind, const I8Args *args, int64_t ch) {
    const ActQ *a = args->a;
    const uint8_t *w = args->w;
    const void *sc = args->sc, *mn = args->mn;
    const float *bias = args->bias;
    const int64_t M = args->M, K = args->K, N = args->N, ldy = args->ldy;
    float *y = args->y;
    int64_t n_lo = ch * N_CHUNK, n_hi = n_lo + N_CHUNK < N ? n_lo + N_CHUNK : N;
    int64_t m0 = 0;
#ifdef SIMD_AVX512
    for (; m0 + 8 <= M; m0 += 8) TILE_ROW(tile_i8, kind, 8, 2);
    for (; m0 + 4 <= M; m0 += 4) TILE_ROW(tile_i8, kind, 4, 4);
    for (; m0 + 2 <= M; m0 += 2) TILE_ROW(tile_i8, kind, 2, 4);
    /* a lone row of q8 (the tied head's 28 MB at batch 1): one column at a time streams at about
     * twice the rate of four (measured on AMD Zen 4) */
    for (; m0 < M; m0++) TILE_ROW(tile_i8, kind, 1, (kind == Q8 ? 1 : 4));
#else
    if (a->wide) {
        for (; m0 + I8_R0 <= M; m0 += I8_R0) TILE_ROW(tile_wide, kind, I8_R0, I8_C0);
        for (; m0 + 2 <= M; m0 += 2) TILE_ROW(tile_wide, kind, 2, I8_C2);
        for (; m0 < M; m0++) TILE_ROW(tile_wide, kind, 1, I8_C2);
    } else {
        for (; m0 < M; m0++) TILE_ROW(tile_i8, kind, 1, (kind == Q8 ? I8_C1Q8 : I8_C1));
    }
#endif
}

static size_t pad64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of the activation buffers (ActQ) of M rows of K columns, all in one block. */
size_t i8_scratch_bytes(int64_t M, int64_t K) {
    size_t sbs = (size_t)(M * ((K + 127) / 128));
    return sbs * 256 + pad64(sbs * 64) + pad64(sbs * 16 + 64) + sbs * 64;
}

/* Point a's buffers into buf (64-byte aligned, i8_scratch_bytes(M, K) long). */
static void act_init(ActQ *a, int64_t M, int64_t K, void *buf) {
    a->nsb = (K + 127) / 128;
#ifdef SIMD_AVX2
    a->wide = M > 1;
#endif
    size_t sbs = (size_t)(M * a->nsb);
    char *p = buf;
    a->q = (int8_t *)p;
    a->sx = (float *)(p += sbs * 256);
    a->xs = (float *)(p += pad64(sbs * 64));
    a->corr = (int32_t *)(p + pad64(sbs * 16 + 64));
}

static void chunk_q4h(void *a, int64_t ch) { chunk_i8(Q4H, a, ch); }
static void chunk_q4f(void *a, int64_t ch) { chunk_i8(Q4F, a, ch); }
static void chunk_q8(void *a, int64_t ch) { chunk_i8(Q8, a, ch); }

/* buf: the activation buffers (see act_init), or NULL to allocate them for this call. */
static int run_i8(void (*fn)(void *, int64_t), const float *x, I8Args args, void *buf) {
    void *own = NULL;
    if (!buf) {
        buf = own = aligned_alloc(64, pad64(i8_scratch_bytes(args.M, args.K)));
        if (!buf) return -1;
    }
    ActQ act;
    act_init(&act, args.M, args.K, buf);
    quantize_rows(x, args.M, args.K, &act);
    args.a = &act;
    int64_t chunks = (args.N + N_CHUNK - 1) / N_CHUNK;
    if (args.M * args.N * args.K <= 65536) {
        for (int64_t ch = 0; ch < chunks; ch++) fn(&args, ch);
    } else {
        pool_run(chunks, fn, &args);
    }
    free(own);
    return 0;
}

/* The three kernels below by kind (0: q4 with f16 scales, 1: q4 with f32, 2: q8), with the
 * caller's activation buffers: what decoder.c calls. */
int linear_i8(int kind, const float *x, int64_t M, int64_t K, const uint8_t *w, const void *sc,
              const void *mn, const float *bias, int64_t N, float *y, int64_t ldy, void *buf) {
    void (*fn)(void *, int64_t) = kind == Q4H ? chunk_q4h : kind == Q4F ? chunk_q4f : chunk_q8;
    return run_i8(fn, x, (I8Args){NULL, w, sc, mn, bias, M, K, N, ldy, y}, buf);
}

#define LINEAR_I8(fn) return run_i8(fn, x, (I8Args){NULL, w, sc, mn, bias, M, K, N, ldy, y}, NULL);

int linear_i8_q4h(const float *x, int64_t M, int64_t K, const uint8_t *w, const uint16_t *sc,
                  const uint16_t *mn, const float *bias, int64_t N, float *y, int64_t ldy) {
    LINEAR_I8(chunk_q4h)
}

int linear_i8_q4f(const float *x, int64_t M, int64_t K, const uint8_t *w, const float *sc,
                  const float *mn, const float *bias, int64_t N, float *y, int64_t ldy) {
    LINEAR_I8(chunk_q4f)
}

int linear_i8_q8(const float *x, int64_t M, int64_t K, const uint8_t *w, const uint16_t *sc,
                 const float *bias, int64_t N, float *y, int64_t ldy) {
    const void *mn = NULL;
    LINEAR_I8(chunk_q8)
}

/* Rows of a q8 table in the layout above (a tied embedding), dequantized exactly. */
void embed_i8_q8(const int64_t *ids, int64_t T, const uint8_t *w, const uint16_t *sc, int64_t K,
                 float *out) {
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = w + ids[t] * K;
        for (int64_t c = 0; c < K; c++) {
            int64_t j = c / 128, r = c % 128, k = r / 8, s = (r % 8) / 4, b = r % 4;
            int64_t lanes = K - j * 128 < 128 ? (K - j * 128) / 8 : 16;
            int8_t q = (int8_t)(row[j * 128 + s * 4 * lanes + 4 * k + b] ^ 0x80);
            out[t * K + c] = (float)q * _cvtsh_ss(sc[ids[t] * (K / 32) + c / 32]);
        }
    }
}
