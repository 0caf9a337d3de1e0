// AVX2 int8 GEMM, exact: weights and activations are widened to int16 and multiplied with
// vpmaddwd (int16 x int16 -> int32 pairs, no saturation), never vpmaddubsw (which saturates
// int16). Weights stay int8 in memory (half the bytes to stream) and are widened by vpmovsxbw.
// Only functions carry the target attribute; the dispatcher calls in here only on AVX2 CPUs.
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "qgemm_internal.h"

#define SK_AVX2 __attribute__((target("avx2,fma")))
#define SK_AVX2_INLINE static inline __attribute__((always_inline)) SK_AVX2

// Packed layout: panels of 24 columns (the last one 8 or 16 wide, N being padded to 8). The
// panel starting at column n0 begins at byte n0 * Kp (Kp = round_up(K, 4)). Inside a panel of
// width w, K group q (k = 4q ... 4q+3) takes w * 4 bytes: for each 8 columns, 16 "even" bytes of
// (B[n][4q], B[n][4q+2]) pairs, then 16 "odd" bytes of (B[n][4q+1], B[n][4q+3]) pairs.
// They meet the 4 activation bytes broadcast per 32-bit lane: masking the high byte of each
// 16-bit word gives (a0, a2), shifting it down gives (a1, a3), so no shuffles are needed.
enum {
  PANEL = 24,
  MR = 4,  // 4 rows x 3 vectors = 12 accumulators of 16 ymm
  B_BLOCK_BYTES = 512 << 10,  // B columns kept in L2 while all row tiles pass over them
};

/// Bytes of B packed for AVX2: N padded to 8, K to 4.
size_t sk_qgemm_packed_size_avx2(size_t N, size_t K) {
  return sk_round_up(N, 8) * sk_round_up(K, 4);
}

/// Packs B into the AVX2 panel layout (plain C: safe on any CPU).
void sk_qgemm_pack_avx2(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed) {
  size_t kp = sk_round_up(K, 4), np = sk_round_up(N, 8);
  int8_t* out = packed;
  for (size_t n0 = 0; n0 < np; n0 += PANEL) {
    size_t w = sk_min_size(PANEL, np - n0);
    int8_t* panel = out + n0 * kp;
    for (size_t q = 0; q < kp / 4; q++) {
      for (size_t c = 0; c < w; c++) {
        size_t n = n0 + c;
        int8_t* even = panel + q * w * 4 + (c / 8) * 32 + (c % 8) * 2;
        int8_t* odd = even + 16;
        for (size_t i = 0; i < 4; i++) {
          size_t k = 4 * q + i;
          int8_t v = (n < N && k < K) ? B[n * ldb + k] : 0;
          ((i & 1) ? odd : even)[i >> 1] = v;
        }
      }
    }
  }
}

/// One register tile: rows [m0, m0+mr), columns n0 ... n0 + 8*nv (last vector partial).
typedef struct {
  size_t kq;
  const uint8_t* A;
  const int8_t* B;
  size_t bstride;  ///< bytes per K group in the panel
  size_t m0, n0;
  int last;        ///< valid lanes of the last vector, 1...8
  const sk_qgemm_args* g;
} sk_avx2_tile;

/// A mask of the first `count` 32-bit lanes.
SK_AVX2_INLINE __m256i sk_avx2_lanes(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Requantizing epilogue of a tile.
SK_AVX2_INLINE void sk_avx2_store_u8(const int nv, __m256i (*acc)[3], int mr,
                                     const sk_avx2_tile* t) {
  const sk_qgemm_args* g = t->g;
  const sk_requant* ep = g->rq;
  // Only the upper clamp is done in float; the lower one is a byte max (sk_requant_floor).
  const __m256 hi = _mm256_set1_ps((float)(ep->out_max - ep->out_zero_point));
  const __m256i zp = _mm256_set1_epi16((int16_t)ep->out_zero_point);
  const __m256i floor = _mm256_set1_epi8((char)sk_requant_floor(ep));
  // packus(packs(q0, q1), packs(q2, 0)) leaves the dwords in the order 0 4 1 5 2 6 3 7.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t count = 8 * (size_t)(nv - 1) + (size_t)t->last;
  __m256 scale[3];
  for (int j = 0; j < nv; j++)
    scale[j] = _mm256_maskload_ps(ep->scale + t->n0 + 8 * j, sk_avx2_lanes(j == nv - 1 ? t->last : 8));
  for (int r = 0; r < mr; r++) {
    __m256i q[4];
    for (int j = 0; j < 4; j++) {
      if (j >= nv) {
        q[j] = _mm256_setzero_si256();
        continue;
      }
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][j]), scale[j]);
      q[j] = _mm256_cvtps_epi32(_mm256_min_ps(hi, v));  // operand order: NaN stays NaN
    }
    // The rounded values are <= out_max - zp, so adding zp in int16 cannot overflow upwards.
    __m256i lo16 = _mm256_adds_epi16(_mm256_packs_epi32(q[0], q[1]), zp);
    __m256i hi16 = _mm256_adds_epi16(_mm256_packs_epi32(q[2], q[3]), zp);
    __m256i p = _mm256_max_epu8(_mm256_packus_epi16(lo16, hi16), floor);
    p = _mm256_permutevar8x32_epi32(p, order);
    uint8_t* c = (uint8_t*)g->C + (t->m0 + r) * g->ldc + t->n0;
    if (count == 24) {
      _mm_storeu_si128((__m128i*)c, _mm256_castsi256_si128(p));
      _mm_storel_epi64((__m128i*)(c + 16), _mm256_extracti128_si256(p, 1));
    } else {
      uint8_t tmp[32];
      _mm256_storeu_si256((__m256i*)tmp, p);
      memcpy(c, tmp, count);
    }
  }
}

/// Dequantizing epilogue of a tile.
SK_AVX2_INLINE void sk_avx2_store_f32(const int nv, __m256i (*acc)[3], int mr,
                                      const sk_avx2_tile* t) {
  const sk_qgemm_args* g = t->g;
  const sk_dequant* ep = g->dq;
  __m256 scale[3], fbias[3];
  __m256i mask[3];
  for (int j = 0; j < nv; j++) {
    mask[j] = sk_avx2_lanes(j == nv - 1 ? t->last : 8);
    scale[j] = _mm256_maskload_ps(ep->scale + t->n0 + 8 * j, mask[j]);
    fbias[j] = ep->fbias ? _mm256_maskload_ps(ep->fbias + t->n0 + 8 * j, mask[j])
                         : _mm256_setzero_ps();
  }
  for (int r = 0; r < mr; r++) {
    float* c = (float*)g->C + (t->m0 + r) * g->ldc + t->n0;
    for (int j = 0; j < nv; j++) {
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][j]), scale[j]);
      v = _mm256_add_ps(v, fbias[j]);
      if (ep->relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
      _mm256_maskstore_ps(c + 8 * j, mask[j], v);
    }
  }
}

/// The micro-kernel: mr x nv accumulators, seeded with the bias, one K group per step.
SK_AVX2_INLINE void sk_avx2_kernel(const int mr, const int nv, const sk_avx2_tile* t) {
  const sk_qgemm_args* g = t->g;
  const size_t lda = g->lda;
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
  __m256i acc[MR][3];
  for (int j = 0; j < nv; j++) {
    __m256i b = _mm256_setzero_si256();
    // The int32 bias is exact in any order, so it seeds the accumulators.
    if (g->kind != SK_OUT_S32) {
      const int32_t* bias = g->kind == SK_OUT_U8 ? g->rq->bias : g->dq->bias;
      b = _mm256_maskload_epi32(bias + t->n0 + 8 * j, sk_avx2_lanes(j == nv - 1 ? t->last : 8));
    }
    for (int r = 0; r < mr; r++) acc[r][j] = b;
  }
  for (size_t q = 0; q < t->kq; q++) {
    const int8_t* b = t->B + q * t->bstride;
    for (int r = 0; r < mr; r++) {
      int32_t a4;
      memcpy(&a4, t->A + r * lda + 4 * q, 4);
      __m256i a = _mm256_set1_epi32(a4);
      __m256i a02 = _mm256_and_si256(a, low_bytes), a13 = _mm256_srli_epi16(a, 8);
      for (int j = 0; j < nv; j++) {
        __m256i even = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(b + 32 * j)));
        __m256i odd = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(b + 32 * j + 16)));
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(a02, even), _mm256_madd_epi16(a13, odd));
        acc[r][j] = _mm256_add_epi32(acc[r][j], s);
      }
    }
  }
  switch (g->kind) {
  case SK_OUT_S32:
    for (int r = 0; r < mr; r++) {
      int32_t* c = (int32_t*)g->C + (t->m0 + r) * g->ldc + t->n0;
      for (int j = 0; j < nv; j++)
        _mm256_maskstore_epi32(c + 8 * j, sk_avx2_lanes(j == nv - 1 ? t->last : 8), acc[r][j]);
    }
    break;
  case SK_OUT_U8: sk_avx2_store_u8(nv, acc, mr, t); break;
  case SK_OUT_F32: sk_avx2_store_f32(nv, acc, mr, t); break;
  }
}

// One compiled kernel per tile shape, so every loop above unrolls into registers.
#define SK_AVX2_TILE(mr, nv) \
  static SK_AVX2 void sk_avx2_tile_##mr##_##nv(const sk_avx2_tile* t) { sk_avx2_kernel(mr, nv, t); }
#define SK_AVX2_ROW(mr) SK_AVX2_TILE(mr, 1) SK_AVX2_TILE(mr, 2) SK_AVX2_TILE(mr, 3)
SK_AVX2_ROW(1)
SK_AVX2_ROW(2)
SK_AVX2_ROW(3)
SK_AVX2_ROW(4)

#define SK_AVX2_ENTRY(mr) {sk_avx2_tile_##mr##_1, sk_avx2_tile_##mr##_2, sk_avx2_tile_##mr##_3}
static void (*const sk_avx2_tiles[MR][3])(const sk_avx2_tile*) = {
    SK_AVX2_ENTRY(1), SK_AVX2_ENTRY(2), SK_AVX2_ENTRY(3), SK_AVX2_ENTRY(4),
};

/// Blocks of B columns that stay in L2; inside, 4-row tiles sweep the panels of the block.
void sk_qgemm_run_avx2(const sk_qgemm_args* g) {
  size_t kp = sk_round_up(g->K, 4), np = sk_round_up(g->N, 8);
  size_t nc = kp ? B_BLOCK_BYTES / kp / PANEL * PANEL : np;
  if (nc < PANEL) nc = PANEL;
  sk_avx2_tile t = {.kq = kp / 4, .g = g};
  for (size_t c0 = g->n_begin; c0 < g->n_end;) {
    size_t c1 = sk_min_size(g->n_end, c0 / PANEL * PANEL + nc);
    for (size_t m0 = 0; m0 < g->M; m0 += MR) {
      size_t mr = sk_min_size(MR, g->M - m0);
      t.A = g->A + m0 * g->lda;
      t.m0 = m0;
      for (size_t n0 = c0; n0 < c1;) {
        size_t p0 = n0 / PANEL * PANEL, w = sk_min_size(PANEL, np - p0);
        size_t n1 = sk_min_size(c1, p0 + w);
        size_t j0 = (n0 - p0) / 8, nv = (n1 - p0 + 7) / 8 - j0;
        t.B = (const int8_t*)g->packed + p0 * kp + 32 * j0;
        t.bstride = w * 4;
        t.n0 = n0;
        t.last = (int)(n1 - (p0 + 8 * (j0 + nv - 1)));
        sk_avx2_tiles[mr - 1][nv - 1](&t);
        n0 = n1;
      }
    }
    c0 = c1;
  }
}

#endif
