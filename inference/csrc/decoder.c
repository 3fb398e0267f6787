/* The captured step: every decoder layer of a Llama-style model (inference/models/llama.py) in
 * one call. Per layer it calls the same kernels, in the same order and on the same buffers'
 * values, as the per-layer Python path, so the results are the same bits; what goes is the Python
 * between the ~9 kernel calls of each layer, and their ctypes calls and tensor allocations.
 * The scratch buffers, those of the int8 linears' activations included, are one allocation per
 * step, owned by the call: two engines in one process share nothing here.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

enum { LIN_Q4H, LIN_Q4F, LIN_Q8, LIN_F32 }; /* the first three are linear_i8's kinds */

typedef struct {
    int64_t kind, n_in, n_out;
    const void *w, *scales, *mins; /* mins: q4 only; f32: w alone */
    const float *bias;
} Lin;

/* One layer's weights and cache, filled once by inference/models/captured_step.py. */
typedef struct {
    Lin qkv, o_proj, gate_up, down;
    const float *input_norm, *post_norm;
    float input_eps, post_eps, scale;
    int64_t H, Hkv, D, bs;
    const float *cos, *sin;
    float *k_cache, *v_cache;
} Layer;

/* buf: linear_i8's activation buffers, so it allocates nothing (and cannot fail) */
static void linear(const Lin *l, const float *x, int64_t T, float *y, void *buf) {
    if (l->kind == LIN_F32)
        linear_f32(x, T, l->n_in, l->w, l->bias, l->n_out, y, l->n_out);
    else
        linear_i8((int)l->kind, x, T, l->n_in, l->w, l->scales, l->mins, l->bias, l->n_out, y,
                  l->n_out, buf);
}

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* T tokens through n layers. residual [T, C] holds the embeddings and is updated in place; x
 * [T, C] receives the last layer's output (the final norm adds it, as in Python). Returns 0, or
 * -1 when the scratch buffers cannot be allocated. */
int decoder_step(const Layer *layers, int64_t n, int64_t T, const int64_t *pos,
                 const int64_t *slots, const int32_t *block_tables, int64_t bt_stride,
                 const int32_t *seq, const int32_t *ctx, float *residual, float *x) {
    const int64_t C = layers[0].qkv.n_in;
    /* the largest of each buffer over the layers: h, qkv, q, o, gate_up, its activation */
    size_t qbuf = 0, sizes[6] = {T * C};
    for (int64_t i = 0; i < n; i++) {
        const Layer *l = &layers[i];
        const Lin *ls[4] = {&l->qkv, &l->o_proj, &l->gate_up, &l->down};
        for (int j = 0; j < 4; j++) qbuf = max_sz(qbuf, i8_scratch_bytes(T, ls[j]->n_in));
        const size_t s[6] = {0, T * l->qkv.n_out, T * l->H * l->D, T * l->H * l->D,
                             T * l->gate_up.n_out, T * l->down.n_in};
        for (int j = 1; j < 6; j++) sizes[j] = max_sz(sizes[j], s[j]);
    }
    size_t total = up64(qbuf);
    for (int j = 0; j < 6; j++) total += up64(sizes[j] * sizeof(float));
    char *mem = aligned_alloc(64, total);
    if (!mem) return -1;
    float *buf[6];
    char *p = mem + up64(qbuf);
    for (int j = 0; j < 6; j++) {
        buf[j] = (float *)p;
        p += up64(sizes[j] * sizeof(float));
    }
    float *h = buf[0], *qkv = buf[1], *q = buf[2], *o = buf[3], *gu = buf[4], *act = buf[5];
    for (int64_t i = 0; i < n; i++) {
        const Layer *l = &layers[i];
        add_rmsnorm(residual, i ? x : NULL, l->input_norm, l->input_eps, T, C, h);
        linear(&l->qkv, h, T, qkv, mem);
        rope_store_kv(qkv, T, l->H, l->Hkv, l->D, pos, l->cos, l->sin, slots, l->bs, l->k_cache,
                      l->v_cache, q);
        paged_attention(q, T, l->H, l->Hkv, l->D, l->k_cache, l->v_cache, l->bs, block_tables,
                        bt_stride, seq, ctx, l->scale, o);
        linear(&l->o_proj, o, T, x, mem);
        add_rmsnorm(residual, x, l->post_norm, l->post_eps, T, C, h);
        linear(&l->gate_up, h, T, gu, mem);
        silu_mul(gu, T, l->down.n_in, act);
        linear(&l->down, act, T, x, mem);
    }
    free(mem);
    return 0;
}
