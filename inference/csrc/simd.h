/* The kernels' SIMD layer: a vector of 16 floats (vf), a 512-bit integer vector of 16 int32 lanes
 * (vi) and a 16-lane mask (vmask), with the operations the float kernels of cpu_ops.c use.
 *
 * With AVX-512 F/BW/VL + VNNI each is the AVX-512 intrinsic of the same name, one to one: the
 * layer costs nothing there. With AVX2 + FMA + F16C each vector is a pair of 256-bit halves
 * (lo = lanes 0..7, hi = lanes 8..15) and each operation does per lane exactly what the AVX-512
 * one does, reductions included (the same pairing tree as gcc's _mm512_reduce_*_ps): the float
 * kernels give the same bits on both. int8_linear.c has its own AVX2 inner loops (integer dot
 * products without VNNI), with the same results.
 *
 * -march=native picks the branch: AVX-512 where the CPU has all four extensions, else AVX2.
 */
#pragma once
#include <immintrin.h>
#include <stdint.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define SIMD_AVX512 1
#define SIMD_ISA "AVX-512 VNNI"
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define SIMD_AVX2 1
#define SIMD_ISA "AVX2"
#else
#error "the C kernels need AVX-512 F/BW/VL + VNNI, or AVX2 + FMA + F16C"
#endif

#define SIMD_INLINE static inline __attribute__((always_inline))

#ifdef SIMD_AVX512

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vmask;

SIMD_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
SIMD_INLINE vf vf_set1(float x) { return _mm512_set1_ps(x); }
SIMD_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
SIMD_INLINE void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
SIMD_INLINE vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
SIMD_INLINE vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
SIMD_INLINE vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
SIMD_INLINE vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
SIMD_INLINE vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
SIMD_INLINE vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
SIMD_INLINE vf vf_abs(vf a) { return _mm512_abs_ps(a); }
/* a * b + c and c - a * b, rounded once */
SIMD_INLINE vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
SIMD_INLINE vf vf_fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
/* to the nearest integer, ties to even */
SIMD_INLINE vf vf_round(vf a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* a * 2^n for integral n in [-128, 128], rounded once */
SIMD_INLINE vf vf_scalef(vf a, vf n) { return _mm512_scalef_ps(a, n); }
SIMD_INLINE float vf_reduce_add(vf a) { return _mm512_reduce_add_ps(a); }
SIMD_INLINE float vf_reduce_max(vf a) { return _mm512_reduce_max_ps(a); }
SIMD_INLINE vf vf_from_i32(vi a) { return _mm512_cvtepi32_ps(a); }

/* the first n lanes (n <= 16) */
SIMD_INLINE vmask vmask_first(int64_t n) { return (vmask)((1u << n) - 1u); }
/* lanes of m from p, zeros elsewhere; nothing outside m is read */
SIMD_INLINE vf vf_maskz_load(vmask m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
/* a where m, src elsewhere; a where m, zero elsewhere */
SIMD_INLINE vf vf_mask_mov(vf src, vmask m, vf a) { return _mm512_mask_mov_ps(src, m, a); }
SIMD_INLINE vf vf_maskz_mov(vmask m, vf a) { return _mm512_maskz_mov_ps(m, a); }

SIMD_INLINE vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
/* 16 bytes, widened to int32: unsigned, signed */
SIMD_INLINE vi vi_from_u8(const void *p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
SIMD_INLINE vi vi_from_i8(const void *p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
}
SIMD_INLINE vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
SIMD_INLINE vi vi_srli32(vi a, const int n) { return _mm512_srli_epi32(a, n); }

#else /* AVX2 */

typedef struct {
    __m256 lo, hi;
} vf;
typedef struct {
    __m256i lo, hi;
} vi;
typedef struct {
    __m256i lo, hi; /* all ones in a lane that is set */
} vmask;

#define VF_MAP1(name, op) \
    SIMD_INLINE vf name(vf a) { return (vf){op(a.lo), op(a.hi)}; }
#define VF_MAP2(name, op) \
    SIMD_INLINE vf name(vf a, vf b) { return (vf){op(a.lo, b.lo), op(a.hi, b.hi)}; }
#define VF_MAP3(name, op) \
    SIMD_INLINE vf name(vf a, vf b, vf c) { return (vf){op(a.lo, b.lo, c.lo), op(a.hi, b.hi, c.hi)}; }

SIMD_INLINE vf vf_zero(void) { return (vf){_mm256_setzero_ps(), _mm256_setzero_ps()}; }
SIMD_INLINE vf vf_set1(float x) { return (vf){_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
SIMD_INLINE vf vf_load(const float *p) { return (vf){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
SIMD_INLINE void vf_store(float *p, vf v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
}
VF_MAP2(vf_add, _mm256_add_ps)
VF_MAP2(vf_sub, _mm256_sub_ps)
VF_MAP2(vf_mul, _mm256_mul_ps)
VF_MAP2(vf_div, _mm256_div_ps)
VF_MAP2(vf_min, _mm256_min_ps)
VF_MAP2(vf_max, _mm256_max_ps)
SIMD_INLINE __m256 abs256_(__m256 a) {
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
}
VF_MAP1(vf_abs, abs256_)
VF_MAP3(vf_fmadd, _mm256_fmadd_ps)
VF_MAP3(vf_fnmadd, _mm256_fnmadd_ps)

SIMD_INLINE __m256 round256_(__m256 a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
VF_MAP1(vf_round, round256_)

/* 2^k for integral k in [-126, 127] */
SIMD_INLINE __m256 pow2_256_(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}
/* a * 2^n in two exact steps of at most 2^64 each, so that only the last one rounds (a result
 * below the normal range included), as scalef does */
SIMD_INLINE __m256 scalef256_(__m256 a, __m256 n) {
    __m256i k = _mm256_cvtps_epi32(n), k1 = _mm256_srai_epi32(k, 1);
    return _mm256_mul_ps(_mm256_mul_ps(a, pow2_256_(k1)), pow2_256_(_mm256_sub_epi32(k, k1)));
}
VF_MAP2(vf_scalef, scalef256_)

/* gcc's _mm512_reduce_add_ps / _max_ps, operation for operation */
SIMD_INLINE float vf_reduce_add(vf a) {
    __m256 t3 = _mm256_add_ps(a.hi, a.lo);
    __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return t8[0] + t8[1];
}
SIMD_INLINE float vf_reduce_max(vf a) {
    __m256 t3 = _mm256_max_ps(a.hi, a.lo);
    __m128 t6 = _mm_max_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    __m128 t8 = _mm_max_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    __m128 t10 = _mm_max_ps(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1)));
    return t10[0];
}
SIMD_INLINE vf vf_from_i32(vi a) { return (vf){_mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi)}; }

SIMD_INLINE vmask vmask_first(int64_t n) {
    __m256i vn = _mm256_set1_epi32((int)n);
    return (vmask){_mm256_cmpgt_epi32(vn, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                   _mm256_cmpgt_epi32(vn, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15))};
}
SIMD_INLINE vf vf_maskz_load(vmask m, const float *p) {
    return (vf){_mm256_maskload_ps(p, m.lo), _mm256_maskload_ps(p + 8, m.hi)};
}
SIMD_INLINE vf vf_mask_mov(vf src, vmask m, vf a) {
    return (vf){_mm256_blendv_ps(src.lo, a.lo, _mm256_castsi256_ps(m.lo)),
                _mm256_blendv_ps(src.hi, a.hi, _mm256_castsi256_ps(m.hi))};
}
SIMD_INLINE vf vf_maskz_mov(vmask m, vf a) {
    return (vf){_mm256_and_ps(a.lo, _mm256_castsi256_ps(m.lo)),
                _mm256_and_ps(a.hi, _mm256_castsi256_ps(m.hi))};
}

SIMD_INLINE vi vi_set1(int32_t x) { return (vi){_mm256_set1_epi32(x), _mm256_set1_epi32(x)}; }
SIMD_INLINE vi vi_from_u8(const void *p) {
    return (vi){_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)),
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)p + 8)))};
}
SIMD_INLINE vi vi_from_i8(const void *p) {
    return (vi){_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)),
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)p + 8)))};
}
SIMD_INLINE vi vi_and(vi a, vi b) { return (vi){_mm256_and_si256(a.lo, b.lo), _mm256_and_si256(a.hi, b.hi)}; }
SIMD_INLINE vi vi_srli32(vi a, const int n) {
    return (vi){_mm256_srli_epi32(a.lo, n), _mm256_srli_epi32(a.hi, n)};
}

#undef VF_MAP1
#undef VF_MAP2
#undef VF_MAP3

#endif
