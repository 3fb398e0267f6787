/* CPU kernels of the engine: fp32 activations against int4 / int8 / fp32 weights, paged attention.
 *
 * Every output element is computed by one thread in an order that depends only on that element's
 * own inputs, never on how many rows share the call. So a request's logits are the same bit for
 * bit whether it runs alone, batched with others, or recomputed after preemption; greedy decoding
 * is therefore batch invariant. Dequantization is exact: (q * d + m) with q < 16 and an f16 d is
 * what gguf's float32 dequantizer produces, rounded once.
 *
 * Built at first use by inference/native.py with -O3 -march=native, on AVX-512 or AVX2 through the
 * 16-lane vectors of simd.h (the same results on both); work is split into chunks for the thread
 * pool of pool.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

/* exp on 16 lanes (Cephes expf polynomial, 2^n by scalef); deterministic, ~1 ulp. */
static inline vf vf_exp(vf x) {
    x = vf_max(vf_min(x, vf_set1(88.3762626647949f)), vf_set1(-88.3762626647949f));
    vf n = vf_round(vf_mul(x, vf_set1(1.44269504088896341f)));
    vf r = vf_fnmadd(n, vf_set1(0.693359375f), x);
    r = vf_fnmadd(n, vf_set1(-2.12194440e-4f), r);
    vf p = vf_set1(1.9875691500E-4f);
    p = vf_fmadd(p, r, vf_set1(1.3981999507E-3f));
    p = vf_fmadd(p, r, vf_set1(8.3334519073E-3f));
    p = vf_fmadd(p, r, vf_set1(4.1665795894E-2f));
    p = vf_fmadd(p, r, vf_set1(1.6666665459E-1f));
    p = vf_fmadd(p, r, vf_set1(5.0000001201E-1f));
    vf r2 = vf_mul(r, r);
    p = vf_fmadd(p, r2, vf_add(r, vf_set1(1.0f)));
    return vf_scalef(p, n);
}

/* ---- linear layers: y[M, N] = x[M, K] @ W[N, K]^T (+ bias) ------------------------------------
 * W is read 32 input columns at a time as two 16-lane vectors.
 * q4: per row K/2 bytes, per 32-column block 16 bytes: low nibble = column j, high = column j+16;
 *     scale/min pairs [N, K/G, 2] in f16 (Q4H) or f32 (Q4F).
 * q8: int8 [N, K], f16 scale per 32 columns [N, K/32].   f32: plain [N, K].
 * A tile of R rows x C columns keeps R*C independent accumulator chains in registers; each output
 * has exactly one chain, always in the same order, whatever the tile shape. */

enum { Q4H, Q4F, Q8, F32 };

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline __attribute__((always_inline)) void
load_w(int kind, const void *w, const void *s, int64_t n, int64_t kb, int64_t K, int64_t G,
       vf *w0, vf *w1) {
    if (kind == Q4H || kind == Q4F) {
        const uint8_t *p = (const uint8_t *)w + n * (K / 2) + kb * 16;
        int64_t si = (n * (K / G) + (kb >> __builtin_ctzll(G / 32))) * 2;
        float d, m;
        if (kind == Q4H) {
            d = h2f(((const uint16_t *)s)[si]);
            m = h2f(((const uint16_t *)s)[si + 1]);
        } else {
            d = ((const float *)s)[si];
            m = ((const float *)s)[si + 1];
        }
        vi v = vi_from_u8(p);
        vi lo = vi_and(v, vi_set1(0x0F));
        vi hi = vi_srli32(v, 4);
        vf vd = vf_set1(d), vm = vf_set1(m);
        *w0 = vf_fmadd(vf_from_i32(lo), vd, vm);
        *w1 = vf_fmadd(vf_from_i32(hi), vd, vm);
    } else if (kind == Q8) {
        const int8_t *p = (const int8_t *)w + n * K + kb * 32;
        vf vd = vf_set1(h2f(((const uint16_t *)s)[n * (K / 32) + kb]));
        *w0 = vf_mul(vf_from_i32(vi_from_i8(p)), vd);
        *w1 = vf_mul(vf_from_i32(vi_from_i8(p + 16)), vd);
    } else {
        const float *p = (const float *)w + n * K + kb * 32;
        *w0 = vf_load(p);
        *w1 = vf_load(p + 16);
    }
}

static inline __attribute__((always_inline)) void
tile(int kind, int R, int C, const float *x, int64_t K, const void *w, const void *s, int64_t G,
     const float *bias, int64_t m0, int64_t n0, float *y, int64_t ldy) {
    vf acc[8][8];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 8") for (int c = 0; c < C; c++) acc[r][c] = vf_zero();
    for (int64_t kb = 0; kb < K / 32; kb++) {
        vf w0[8], w1[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < C; c++) load_w(kind, w, s, n0 + c, kb, K, G, &w0[c], &w1[c]);
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
            const float *xr = x + (m0 + r) * K + kb * 32;
            vf xa = vf_load(xr), xb = vf_load(xr + 16);
            _Pragma("GCC unroll 8") for (int c = 0; c < C; c++) {
                acc[r][c] = vf_fmadd(w0[c], xa, acc[r][c]);
                acc[r][c] = vf_fmadd(w1[c], xb, acc[r][c]);
            }
        }
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 8") for (int c = 0; c < C; c++)
            y[(m0 + r) * ldy + n0 + c] = vf_reduce_add(acc[r][c]) + (bias ? bias[n0 + c] : 0.0f);
}

#define N_CHUNK 16
#ifndef F_R0 /* AVX2 tile shapes */
#define F_R0 4
#define F_C0 1
#define F_C2 2
#define F_C1 2
#endif

/* Columns [n_lo, n_hi) for rows [m0, m0 + R): full C-wide tiles, then single columns. */
#define TILE_ROW(kind, R, C)                                                                   \
    do {                                                                                       \
        int64_t n = n_lo;                                                                      \
        for (; n + C <= n_hi; n += C) tile(kind, R, C, x, K, w, s, G, bias, m0, n, y, ldy);   \
        for (; n < n_hi; n++) tile(kind, R, 1, x, K, w, s, G, bias, m0, n, y, ldy);           \
    } while (0)

typedef struct {
    const float *x, *bias;
    const void *w, *s;
    int64_t M, K, G, N, ldy;
    float *y;
} LinearArgs;

/* One chunk of N_CHUNK output columns, all rows; `kind` is a constant in each instantiation. */
static inline __attribute__((always_inline)) void linear_chunk(int kind, const LinearArgs *a, int64_t ch) {
    const float *x = a->x, *bias = a->bias;
    const void *w = a->w, *s = a->s;
    const int64_t M = a->M, K = a->K, G = a->G, N = a->N, ldy = a->ldy;
    float *y = a->y;
    int64_t n_lo = ch * N_CHUNK, n_hi = n_lo + N_CHUNK < N ? n_lo + N_CHUNK : N;
    int64_t m0 = 0;
#ifdef SIMD_AVX512
    for (; m0 + 8 <= M; m0 += 8) TILE_ROW(kind, 8, 2);
    for (; m0 + 4 <= M; m0 += 4) TILE_ROW(kind, 4, 4);
    for (; m0 + 2 <= M; m0 += 2) TILE_ROW(kind, 2, 4);
    for (; m0 < M; m0++) TILE_ROW(kind, 1, 8);
#else /* 16 ymm registers, two per vector: smaller tiles */
    for (; m0 + F_R0 <= M; m0 += F_R0) TILE_ROW(kind, F_R0, F_C0);
    for (; m0 + 2 <= M; m0 += 2) TILE_ROW(kind, 2, F_C2);
    for (; m0 < M; m0++) TILE_ROW(kind, 1, F_C1);
#endif
}

static void chunk_q4h(void *a, int64_t ch) { linear_chunk(Q4H, a, ch); }
static void chunk_q4f(void *a, int64_t ch) { linear_chunk(Q4F, a, ch); }
static void chunk_q8(void *a, int64_t ch) { linear_chunk(Q8, a, ch); }
static void chunk_f32(void *a, int64_t ch) { linear_chunk(F32, a, ch); }

static void run_linear(void (*fn)(void *, int64_t), LinearArgs a) {
    int64_t chunks = (a.N + N_CHUNK - 1) / N_CHUNK;
    if (a.M * a.N * a.K <= 65536) {
        for (int64_t ch = 0; ch < chunks; ch++) fn(&a, ch);
    } else {
        pool_run(chunks, fn, &a);
    }
}

#define LINEAR(fn, w, s, G) run_linear(fn, (LinearArgs){x, bias, w, s, M, K, G, N, ldy, y});

void linear_q4h(const float *x, int64_t M, int64_t K, const uint8_t *qw, const uint16_t *sm,
                int64_t G, const float *bias, int64_t N, float *y, int64_t ldy) {
    LINEAR(chunk_q4h, qw, sm, G)
}

void linear_q4f(const float *x, int64_t M, int64_t K, const uint8_t *qw, const float *sm,
                int64_t G, const float *bias, int64_t N, float *y, int64_t ldy) {
    LINEAR(chunk_q4f, qw, sm, G)
}

void linear_q8(const float *x, int64_t M, int64_t K, const int8_t *qw, const uint16_t *sc,
               const float *bias, int64_t N, float *y, int64_t ldy) {
    LINEAR(chunk_q8, qw, sc, 32)
}

void linear_f32(const float *x, int64_t M, int64_t K, const float *w, const float *bias,
                int64_t N, float *y, int64_t ldy) {
    LINEAR(chunk_f32, w, NULL, 32)
}

/* Rows of a Q8_0 table (embedding lookup), dequantized exactly. */
void embed_q8(const int64_t *ids, int64_t T, const int8_t *qw, const uint16_t *sc, int64_t K,
              float *out) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t kb = 0; kb < K / 32; kb++) {
            vf w0, w1;
            load_w(Q8, qw, sc, ids[t], kb, K, 32, &w0, &w1);
            vf_store(out + t * K + kb * 32, w0);
            vf_store(out + t * K + kb * 32 + 16, w1);
        }
}

/* ---- norms and activations -------------------------------------------------------------- */

/* h += add (when given), then out = w * (h * rsqrt(mean(h^2) + eps)), row by row. */
void add_rmsnorm(float *h, const float *add, const float *w, float eps, int64_t T, int64_t C,
                 float *out) {
    for (int64_t t = 0; t < T; t++) {
        float *row = h + t * C;
        if (add)
            for (int64_t i = 0; i < C; i++) row[i] += add[t * C + i];
        vf acc = vf_zero();
        int64_t i = 0;
        for (; i + 16 <= C; i += 16) {
            vf v = vf_load(row + i);
            acc = vf_fmadd(v, v, acc);
        }
        float ss = vf_reduce_add(acc);
        for (; i < C; i++) ss += row[i] * row[i];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        for (i = 0; i < C; i++) out[t * C + i] = w[i] * (row[i] * r);
    }
}

/* out[t, i] = silu(gu[t, i]) * gu[t, F + i] */
void silu_mul(const float *gu, int64_t T, int64_t F, float *out) {
    for (int64_t t = 0; t < T; t++) {
        const float *g = gu + t * 2 * F, *u = g + F;
        int64_t i = 0;
        for (; i + 16 <= F; i += 16) {
            vf gv = vf_load(g + i);
            vf e = vf_exp(vf_sub(vf_zero(), gv));
            vf s = vf_div(gv, vf_add(e, vf_set1(1.0f)));
            vf_store(out + t * F + i, vf_mul(s, vf_load(u + i)));
        }
        for (; i < F; i++) out[t * F + i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

/* ---- rotary embedding and KV-cache writes ------------------------------------------------- */

static inline void rotate(const float *src, const float *c, const float *s, int64_t half,
                          float *dst) {
    for (int64_t i = 0; i < half; i++) {
        float a = src[i], b = src[i + half];
        dst[i] = a * c[i] - b * s[i];
        dst[i + half] = b * c[i] + a * s[i];
    }
}

/* qkv rows [T, (H + 2 Hkv) D]: rotate q into q_out [T, H, D]; rotate k and copy v into the cache
 * slot (block * bs + offset) of each token. cos/sin tables are [positions, D / 2].
 * K is stored transposed within a block, [blocks, Hkv, D, bs], so that attention reads one
 * dimension of 16 keys as one vector; V is [blocks, bs, Hkv, D]. */
void rope_store_kv(const float *qkv, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                   const int64_t *pos, const float *cos_t, const float *sin_t, const int64_t *slots,
                   int64_t bs, float *kc, float *vc, float *q_out) {
    int64_t half = D / 2, width = (H + 2 * Hkv) * D;
    float k[256];
    for (int64_t t = 0; t < T; t++) {
        const float *row = qkv + t * width;
        const float *c = cos_t + pos[t] * half, *s = sin_t + pos[t] * half;
        for (int64_t h = 0; h < H; h++) rotate(row + h * D, c, s, half, q_out + (t * H + h) * D);
        int64_t block = slots[t] / bs, off = slots[t] % bs;
        for (int64_t h = 0; h < Hkv; h++) {
            rotate(row + (H + h) * D, c, s, half, k);
            float *kd = kc + (block * Hkv + h) * D * bs + off;
            for (int64_t d = 0; d < D; d++) kd[d * bs] = k[d];
        }
        float *vd = vc + slots[t] * Hkv * D;
        for (int64_t i = 0; i < Hkv * D; i++) vd[i] = row[(H + Hkv) * D + i];
    }
}

/* ---- paged attention ------------------------------------------------------------------------
 * Query token t (heads [H, D] in q) attends to the first ctx[t] positions of sequence seq[t],
 * whose cache blocks are block_tables[seq[t], :]. Causal masking is ctx[t] = position + 1.
 * A task is one kv head for up to QG consecutive query tokens (fewer when there are too few
 * tasks for the threads), walked in lockstep over key positions: tokens of one prompt chunk, or
 * sequences sharing a system prompt, read the same cache blocks, so each block comes from memory
 * once per task rather than once per token. Tokens that read the same keys of the same block
 * are scored together, up to 4 at a time, sharing each load of K; the G query heads of a kv head
 * share each load of a V row.
 * Per token the arithmetic is that of the token alone, whichever tokens share its loads: scores
 * of up to 16 keys of one block at a time (one vector per dimension of K^T), online softmax in
 * key order. */
#define QG 16

typedef struct {
    const float *q, *kc, *vc;
    int64_t T, H, Hkv, D, bs, bt_stride, qg;
    const int32_t *block_tables, *seq, *ctx;
    float scale;
    float *out;
} AttnArgs;

typedef struct {
    vf *acc; /* [group][D / 16] */
    float *qs;   /* [group][D], the group's query heads, scaled */
    float *mx, *sum;
} QueryState;

#ifdef SIMD_AVX512
#define ATTN_QK_ACC 12 /* live score vectors (x2: even and odd dimensions) of 32 zmm */
#define ATTN_PV_ACC 24 /* live output vectors while a V row is shared by heads */
#else
#define ATTN_QK_ACC 7 /* x2 halves of 8 lanes at a time, of 16 ymm */
#define ATTN_PV_ACC 3 /* x2 ymm each: one head of head_dim 64 at a time */
#endif

/* v is loaded once into a register, not reloaded as a memory operand by each instruction using it */
static inline __attribute__((always_inline)) void vf_in_register(vf *v) {
#ifdef SIMD_AVX512
    __asm__("" : "+v"(*v));
#else
    __asm__("" : "+x"(v->lo), "+x"(v->hi));
#endif
}

/* Keys [off, off + n) of one block for NT query tokens st[0..NT) that all read them. With G
 * (heads per kv head), ND (head_dim / 16) and NT known at compile time, scores and accumulators
 * stay in registers. The max of each score vector only rescales the running sums when it grows:
 * expf(0) is exactly 1, so skipping it changes no bit. */
static inline __attribute__((always_inline)) void
attend_chunk_k(const int G, const int ND, const int NT, const AttnArgs *a, QueryState *const *st,
               int64_t kvh, int64_t block, int64_t off, int64_t n) {
    const int64_t Hkv = a->Hkv, D = 16 * ND, bs = a->bs;
    const vmask valid = vmask_first(n);
    const float *kt = a->kc + (block * Hkv + kvh) * D * bs + off;
    const float *vb = a->vc + ((block * bs + off) * Hkv + kvh) * D;
    vf scores[ATTN_QK_ACC > 8 ? ATTN_QK_ACC : 8]; /* [token][head] */
    const float *qs[4]; /* the tokens' scaled query heads, in registers */
    _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) qs[t] = st[t]->qs;
#ifdef SIMD_AVX512
    vf s0[ATTN_QK_ACC], s1[ATTN_QK_ACC]; /* even and odd dimensions; fixed sizes stay in registers */
    _Pragma("GCC unroll 12") for (int i = 0; i < NT * G; i++) s0[i] = s1[i] = vf_zero();
    for (int64_t d = 0; d < D; d += 2) {
        vf k0 = vf_maskz_load(valid, kt + d * bs);
        vf k1 = vf_maskz_load(valid, kt + (d + 1) * bs);
        _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++)
            _Pragma("GCC unroll 8") for (int g = 0; g < G; g++) {
                s0[t * G + g] = vf_fmadd(vf_set1(qs[t][g * D + d]), k0, s0[t * G + g]);
                s1[t * G + g] = vf_fmadd(vf_set1(qs[t][g * D + d + 1]), k1, s1[t * G + g]);
            }
    }
    _Pragma("GCC unroll 12") for (int i = 0; i < NT * G; i++) scores[i] = vf_add(s0[i], s1[i]);
#else
    /* the same sums lanes 0..7 first, then 8..15: half the live registers (16 ymm) */
    _Pragma("GCC unroll 2") for (int half = 0; half < 2; half++) {
        const __m256i m = half ? valid.hi : valid.lo;
        __m256 s0[ATTN_QK_ACC > 8 ? ATTN_QK_ACC : 8], s1[ATTN_QK_ACC > 8 ? ATTN_QK_ACC : 8];
        _Pragma("GCC unroll 8") for (int i = 0; i < NT * G; i++) s0[i] = s1[i] = _mm256_setzero_ps();
        for (int64_t d = 0; d < D; d += 2) {
            __m256 k0 = _mm256_maskload_ps(kt + d * bs + 8 * half, m);
            __m256 k1 = _mm256_maskload_ps(kt + (d + 1) * bs + 8 * half, m);
            _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++)
                _Pragma("GCC unroll 8") for (int g = 0; g < G; g++) {
                    s0[t * G + g] = _mm256_fmadd_ps(_mm256_set1_ps(qs[t][g * D + d]), k0, s0[t * G + g]);
                    s1[t * G + g] = _mm256_fmadd_ps(_mm256_set1_ps(qs[t][g * D + d + 1]), k1, s1[t * G + g]);
                }
        }
        _Pragma("GCC unroll 8") for (int i = 0; i < NT * G; i++) {
            if (half) scores[i].hi = _mm256_add_ps(s0[i], s1[i]);
            else scores[i].lo = _mm256_add_ps(s0[i], s1[i]);
        }
    }
#endif
    /* online softmax of every (token, head) first: independent chains, side by side */
    float p[4 * 8][16], corr[4 * 8];
    _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++)
        for (int g = 0; g < G; g++) {
            QueryState *s = st[t];
            vf sv = vf_mask_mov(vf_set1(-INFINITY), valid, scores[t * G + g]);
            const float mx = s->mx[g], new_mx = fmaxf(mx, vf_reduce_max(sv));
            const float c = new_mx == mx && mx != -INFINITY ? 1.0f : expf(mx - new_mx);
            vf pv = vf_maskz_mov(valid, vf_exp(vf_sub(sv, vf_set1(new_mx))));
            s->sum[g] = s->sum[g] * c + vf_reduce_add(pv);
            s->mx[g] = new_mx;
            corr[t * G + g] = c;
            vf_store(p[t * G + g], pv);
        }
    /* acc = acc * corr + sum_i p[i] V[i], per token, PG heads at a time sharing each V row */
    const int PG0 = ATTN_PV_ACC / ND > 0 ? ATTN_PV_ACC / ND : 1, PG = PG0 < G ? PG0 : G;
    _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) {
        QueryState *s = st[t];
        _Pragma("GCC unroll 8") for (int g0 = 0; g0 < G; g0 += PG) {
            const int ng = G - g0 < PG ? G - g0 : PG;
            vf acc[ATTN_PV_ACC > 16 ? ATTN_PV_ACC : 16]; /* [head][ND] */
            _Pragma("GCC unroll 8") for (int g = 0; g < ng; g++) {
                vf vcorr = vf_set1(corr[t * G + g0 + g]);
                _Pragma("GCC unroll 16") for (int j = 0; j < ND; j++)
                    acc[g * ND + j] = vf_mul(s->acc[(g0 + g) * ND + j], vcorr);
            }
            for (int64_t i = 0; i < n; i++) {
                const float *vr = vb + i * Hkv * D;
                vf v[16];
                _Pragma("GCC unroll 16") for (int j = 0; j < ND; j++) {
                    v[j] = vf_load(vr + 16 * j);
                    if (ng > 1) vf_in_register(&v[j]);
                }
                _Pragma("GCC unroll 8") for (int g = 0; g < ng; g++) {
                    vf pi = vf_set1(p[t * G + g0 + g][i]);
                    _Pragma("GCC unroll 16") for (int j = 0; j < ND; j++)
                        acc[g * ND + j] = vf_fmadd(pi, v[j], acc[g * ND + j]);
                }
            }
            _Pragma("GCC unroll 8") for (int g = 0; g < ng; g++)
                _Pragma("GCC unroll 16") for (int j = 0; j < ND; j++)
                    s->acc[(g0 + g) * ND + j] = acc[g * ND + j];
        }
    }
}

/* cnt tokens reading the same keys: 4, then 2, then 1 at a time, as registers allow */
static inline __attribute__((always_inline)) void
attend_tokens_k(const int G, const int ND, const AttnArgs *a, QueryState *const *st, int64_t cnt,
                int64_t kvh, int64_t block, int64_t off, int64_t n) {
    const int N4 = 4 * G <= ATTN_QK_ACC ? 4 : 1, N2 = 2 * G <= ATTN_QK_ACC ? 2 : 1;
    int64_t i = 0;
    for (; N4 == 4 && i + 4 <= cnt; i += 4) attend_chunk_k(G, ND, N4, a, st + i, kvh, block, off, n);
    for (; N2 == 2 && i + 2 <= cnt; i += 2) attend_chunk_k(G, ND, N2, a, st + i, kvh, block, off, n);
    for (; i < cnt; i++) attend_chunk_k(G, ND, 1, a, st + i, kvh, block, off, n);
}

#define ATTEND_CASE(G, ND) \
    case G * 32 + ND: attend_tokens_k(G, ND, a, st, cnt, kvh, block, off, n); return;

static void attend_chunk(const AttnArgs *a, QueryState *const *st, int64_t cnt, int64_t kvh,
                         int64_t block, int64_t off, int64_t n) {
    const int64_t group = a->H / a->Hkv, nd = a->D / 16;
    switch (group * 32 + nd) {
        ATTEND_CASE(1, 4) ATTEND_CASE(2, 4) ATTEND_CASE(3, 4) ATTEND_CASE(4, 4)
        ATTEND_CASE(5, 4) ATTEND_CASE(6, 4) ATTEND_CASE(7, 4) ATTEND_CASE(8, 4)
        ATTEND_CASE(1, 8) ATTEND_CASE(2, 8) ATTEND_CASE(3, 8) ATTEND_CASE(4, 8)
        ATTEND_CASE(5, 8) ATTEND_CASE(6, 8) ATTEND_CASE(7, 8) ATTEND_CASE(8, 8)
    }
    for (int64_t i = 0; i < cnt; i++)
        for (int64_t g = 0; g < group; g++) { /* any other shape: one head at a time */
            QueryState one = {st[i]->acc + g * nd, st[i]->qs + g * a->D, st[i]->mx + g, st[i]->sum + g};
            QueryState *const po = &one;
            switch (nd) { /* head_dim is a multiple of 16, at most 256 */
            case 1: attend_chunk_k(1, 1, 1, a, &po, kvh, block, off, n); break;
            case 2: attend_chunk_k(1, 2, 1, a, &po, kvh, block, off, n); break;
            case 3: attend_chunk_k(1, 3, 1, a, &po, kvh, block, off, n); break;
            case 4: attend_chunk_k(1, 4, 1, a, &po, kvh, block, off, n); break;
            case 5: attend_chunk_k(1, 5, 1, a, &po, kvh, block, off, n); break;
            case 6: attend_chunk_k(1, 6, 1, a, &po, kvh, block, off, n); break;
            case 7: attend_chunk_k(1, 7, 1, a, &po, kvh, block, off, n); break;
            case 8: attend_chunk_k(1, 8, 1, a, &po, kvh, block, off, n); break;
            case 9: attend_chunk_k(1, 9, 1, a, &po, kvh, block, off, n); break;
            case 10: attend_chunk_k(1, 10, 1, a, &po, kvh, block, off, n); break;
            case 11: attend_chunk_k(1, 11, 1, a, &po, kvh, block, off, n); break;
            case 12: attend_chunk_k(1, 12, 1, a, &po, kvh, block, off, n); break;
            case 13: attend_chunk_k(1, 13, 1, a, &po, kvh, block, off, n); break;
            case 14: attend_chunk_k(1, 14, 1, a, &po, kvh, block, off, n); break;
            case 15: attend_chunk_k(1, 15, 1, a, &po, kvh, block, off, n); break;
            default: attend_chunk_k(1, 16, 1, a, &po, kvh, block, off, n); break;
            }
        }
}

static void attention_task(void *args, int64_t task) {
    const AttnArgs *a = args;
    const int64_t H = a->H, Hkv = a->Hkv, D = a->D, bs = a->bs;
    const int64_t group = H / Hkv, nd = D / 16;
    /* kv head major: consecutive tasks (on one thread or side by side on several) read the
     * same cache blocks while they are still in cache */
    const int64_t qg = a->qg, groups = (a->T + qg - 1) / qg;
    const int64_t kvh = task / groups, t0 = task % groups * qg;
    const int64_t nq = a->T - t0 < qg ? a->T - t0 : qg;
    vf acc_mem[QG * group * nd];
    float qs_mem[QG * group * D], mx_mem[QG * group], sum_mem[QG * group];
    QueryState st[QG];
    const int32_t *bt[QG];
    int64_t longest = 0;
    for (int64_t i = 0; i < nq; i++) {
        const int64_t t = t0 + i;
        st[i] = (QueryState){acc_mem + i * group * nd, qs_mem + i * group * D, mx_mem + i * group, sum_mem + i * group};
        bt[i] = a->block_tables + (int64_t)a->seq[t] * a->bt_stride;
        for (int64_t g = 0; g < group; g++) {
            const float *qh = a->q + (t * H + kvh * group + g) * D;
            for (int64_t d = 0; d < D; d++) st[i].qs[g * D + d] = qh[d] * a->scale;
            st[i].mx[g] = -INFINITY;
            st[i].sum[g] = 0.0f;
            for (int64_t j = 0; j < nd; j++) st[i].acc[g * nd + j] = vf_zero();
        }
        if (a->ctx[t] > longest) longest = a->ctx[t];
    }
    /* chunks never cross a block nor 16 keys, so their bounds depend on positions only */
    for (int64_t start = 0; start < longest;) {
        const int64_t off = start % bs, span = bs - off < 16 ? bs - off : 16;
        int64_t block[QG], n[QG];
        for (int64_t i = 0; i < nq; i++) {
            const int64_t n_keys = a->ctx[t0 + i];
            n[i] = start >= n_keys ? 0 : n_keys - start < span ? n_keys - start : span;
            block[i] = n[i] ? bt[i][start / bs] : -1;
        }
        /* tokens reading the same keys of the same block go together */
        for (int64_t i = 0; i < nq; i++) {
            if (!n[i]) continue;
            QueryState *same[QG];
            int64_t cnt = 0;
            for (int64_t j = i; j < nq; j++)
                if (n[j] == n[i] && block[j] == block[i]) {
                    same[cnt++] = &st[j];
                    if (j > i) n[j] = 0;
                }
            attend_chunk(a, same, cnt, kvh, block[i], off, n[i]);
        }
        start += span;
    }
    for (int64_t i = 0; i < nq; i++) {
        for (int64_t g = 0; g < group; g++) {
            float *o = a->out + ((t0 + i) * H + kvh * group + g) * D;
            vf inv = vf_set1(1.0f / st[i].sum[g]);
            for (int64_t j = 0; j < nd; j++) vf_store(o + 16 * j, vf_mul(st[i].acc[g * nd + j], inv));
        }
    }
}

void paged_attention(const float *q, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                     const float *kc, const float *vc, int64_t bs, const int32_t *block_tables,
                     int64_t bt_stride, const int32_t *seq, const int32_t *ctx, float scale,
                     float *out) {
    /* fewer tokens per task while there are too few tasks to keep every thread busy */
    int64_t qg = QG;
    while (qg > 1 && (T + qg - 1) / qg * Hkv < 4 * n_threads) qg /= 2;
    AttnArgs a = {q, kc, vc, T, H, Hkv, D, bs, bt_stride, qg, block_tables, seq, ctx, scale, out};
    int64_t tasks = (T + qg - 1) / qg * Hkv;
    if (T > 1 || ctx[0] > 256) {
        pool_run(tasks, attention_task, &a);
    } else {
        for (int64_t task = 0; task < tasks; task++) attention_task(&a, task);
    }
}
