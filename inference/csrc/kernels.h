/* The kernels one source calls in another (decoder.c calls those of cpu_ops.c and int8_linear.c);
 * each defining file includes this too, so the compiler checks the declarations. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* cpu_ops.c */
void linear_f32(const float *x, int64_t M, int64_t K, const float *w, const float *bias,
                int64_t N, float *y, int64_t ldy);
void add_rmsnorm(float *h, const float *add, const float *w, float eps, int64_t T, int64_t C,
                 float *out);
void silu_mul(const float *gu, int64_t T, int64_t F, float *out);
void rope_store_kv(const float *qkv, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                   const int64_t *pos, const float *cos_t, const float *sin_t, const int64_t *slots,
                   int64_t bs, float *kc, float *vc, float *q_out);
void paged_attention(const float *q, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                     const float *kc, const float *vc, int64_t bs, const int32_t *block_tables,
                     int64_t bt_stride, const int32_t *seq, const int32_t *ctx, float scale,
                     float *out);
/* int8_linear.c */
size_t i8_scratch_bytes(int64_t M, int64_t K);
int linear_i8(int kind, const float *x, int64_t M, int64_t K, const uint8_t *w, const void *sc,
              const void *mn, const float *bias, int64_t N, float *y, int64_t ldy, void *buf);
