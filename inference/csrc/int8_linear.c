/* Linear layers with integer dot products (AVX-512 VNNI) against activations held as two int8 digits.
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
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

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
} ActQ;

typedef struct {
    const float *x;
    int64_t K;
    ActQ *a;
} QuantArgs;

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

static void quantize_rows(const float *x, int64_t M, int64_t K, ActQ *a) {
    QuantArgs args = {x, K, a};
    if (M > 8) {
        pool_run(M, quantize_row, &args);
    } else {
        for (int64_t m = 0; m < M; m++) quantize_row(&args, m);
    }
}

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
            /* the next rows' bytes of this SB: L3 latency, not bandwidth, bounds a lone row */
            if (PREFETCH_ROWS) _mm_prefetch((const char *)(p + PREFETCH_ROWS * row_bytes), _MM_HINT_T0);
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

#define N_CHUNK 16
#define TILE_ROW_I8(kind, R, C)                                                                \
    do {                                                                                       \
        int64_t n = n_lo;                                                                      \
        for (; n + C <= n_hi; n += C) tile_i8(kind, R, C, a, K, w, sc, mn, bias, m0, n, y, ldy); \
        for (; n < n_hi; n++) tile_i8(kind, R, 1, a, K, w, sc, mn, bias, m0, n, y, ldy);      \
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
    for (; m0 + 8 <= M; m0 += 8) TILE_ROW_I8(kind, 8, 2);
    for (; m0 + 4 <= M; m0 += 4) TILE_ROW_I8(kind, 4, 4);
    for (; m0 + 2 <= M; m0 += 2) TILE_ROW_I8(kind, 2, 4);
    for (; m0 < M; m0++) TILE_ROW_I8(kind, 1, 4);
}

static int act_alloc(ActQ *a, int64_t M, int64_t K) {
    a->nsb = (K + 127) / 128;
    a->q = aligned_alloc(64, (size_t)(M * a->nsb * 256));
    a->sx = aligned_alloc(64, (size_t)(M * a->nsb * 16 * 4));
    a->xs = aligned_alloc(64, (size_t)(M * a->nsb * 4 * 4 + 64));
    a->corr = aligned_alloc(64, (size_t)(M * a->nsb * 16 * 4));
    return a->q && a->sx && a->xs && a->corr;
}

static void act_free(ActQ *a) {
    free(a->q);
    free(a->sx);
    free(a->xs);
    free(a->corr);
}

static void chunk_q4h(void *a, int64_t ch) { chunk_i8(Q4H, a, ch); }
static void chunk_q4f(void *a, int64_t ch) { chunk_i8(Q4F, a, ch); }
static void chunk_q8(void *a, int64_t ch) { chunk_i8(Q8, a, ch); }

static int run_i8(void (*fn)(void *, int64_t), const float *x, I8Args args) {
    ActQ act;
    if (!act_alloc(&act, args.M, args.K)) {
        act_free(&act);
        return -1;
    }
    quantize_rows(x, args.M, args.K, &act);
    args.a = &act;
    int64_t chunks = (args.N + N_CHUNK - 1) / N_CHUNK;
    if (args.M * args.N * args.K <= 65536) {
        for (int64_t ch = 0; ch < chunks; ch++) fn(&args, ch);
    } else {
        pool_run(chunks, fn, &args);
    }
    act_free(&act);
    return 0;
}

#define LINEAR_I8(fn) return run_i8(fn, x, (I8Args){NULL, w, sc, mn, bias, M, K, N, ldy, y});

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
