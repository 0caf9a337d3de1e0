// AVX-512 VNNI int8 GEMM: vpdpbusd multiplies 4 uint8 by 4 int8 and adds them to an int32
// lane, exactly. Only functions carry the target attribute (no global -m flags), so the library
// still loads on CPUs without AVX-512; the dispatcher calls in here only when it is available.
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "qgemm_internal.h"

#define SK_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define SK_VNNI_INLINE static inline __attribute__((always_inline)) SK_VNNI

// Packed layout: panels of 64 columns (the last one 16, 32 or 48 wide, N being padded to 16).
// The panel starting at column n0 begins at byte n0 * Kp (Kp = round_up(K, 4)). Inside a panel
// of width w, K group q (k = 4q ... 4q+3) takes w * 4 bytes: 64-byte vector j holds columns
// 16j ... 16j+15 with 4 consecutive k each, the operand layout of vpdpbusd.
enum {
  PANEL = 64,
  MR = 6,              // 6 rows x 4 vectors = 24 accumulators of 32 zmm
  ONE_ROW_CHAINS = 4,  // independent K chains hide vpdpbusd latency when M = 1
  B_BLOCK_BYTES = 512 << 10,  // B columns kept in L2 while all row tiles pass over them
};

/// Bytes of B packed for VNNI: N padded to 16, K to 4.
size_t sk_qgemm_packed_size_vnni(size_t N, size_t K) {
  return sk_round_up(N, 16) * sk_round_up(K, 4);
}

/// Packs B into the VNNI panel layout (plain C: safe on any CPU).
void sk_qgemm_pack_vnni(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed) {
  size_t kp = sk_round_up(K, 4), np = sk_round_up(N, 16);
  int8_t* out = packed;
  for (size_t n0 = 0; n0 < np; n0 += PANEL) {
    size_t w = sk_min_size(PANEL, np - n0);
    int8_t* panel = out + n0 * kp;
    for (size_t q = 0; q < kp / 4; q++) {
      for (size_t c = 0; c < w; c++) {
        size_t n = n0 + c;
        for (size_t i = 0; i < 4; i++) {
          size_t k = 4 * q + i;
          panel[(q * w + c) * 4 + i] = (n < N && k < K) ? B[n * ldb + k] : 0;
        }
      }
    }
  }
}

/// One register tile: rows [m0, m0+mr), columns n0 ... n0 + 16*nv (last vector masked).
typedef struct {
  size_t kq;           ///< K groups of 4
  const uint8_t* A;    ///< row m0
  const int8_t* B;     ///< first vector of the tile in its panel
  size_t bstride;      ///< bytes per K group in the panel
  size_t m0, n0;
  __mmask16 last;      ///< lane mask of the last vector
  const sk_qgemm_args* g;
} sk_vnni_tile;

/// Requantizing epilogue of a tile: one 64-byte masked store per row.
SK_VNNI_INLINE void sk_vnni_store_u8(const int nv, __m512i (*acc)[4], int mr,
                                     const sk_vnni_tile* t) {
  const sk_qgemm_args* g = t->g;
  const sk_requant* ep = g->rq;
  // Only the upper clamp is done in float; the lower one is a byte max (sk_requant_floor).
  const __m512 hi = _mm512_set1_ps((float)(ep->out_max - ep->out_zero_point));
  const __m512i zp = _mm512_set1_epi16((int16_t)ep->out_zero_point);
  const __m512i floor = _mm512_set1_epi8((char)sk_requant_floor(ep));
  // packus(packs(q0, q1), packs(q2, q3)) leaves 4x4 dwords transposed within each lane.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  size_t count = 16 * (size_t)(nv - 1) + (size_t)__builtin_popcount(t->last);
  __mmask64 bytes = count == 64 ? ~(__mmask64)0 : (((__mmask64)1 << count) - 1);
  __m512 scale[4];
  for (int j = 0; j < nv; j++)
    scale[j] = _mm512_maskz_loadu_ps(j == nv - 1 ? t->last : 0xFFFF, ep->scale + t->n0 + 16 * j);
  for (int r = 0; r < mr; r++) {
    __m512i q[4];
    for (int j = 0; j < 4; j++) {
      if (j >= nv) {
        q[j] = _mm512_setzero_si512();
        continue;
      }
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][j]), scale[j]);
      q[j] = _mm512_cvtps_epi32(_mm512_min_ps(hi, v));  // operand order: NaN stays NaN
    }
    // The rounded values are <= out_max - zp, so adding zp in int16 cannot overflow upwards.
    __m512i lo16 = _mm512_adds_epi16(_mm512_packs_epi32(q[0], q[1]), zp);
    __m512i hi16 = _mm512_adds_epi16(_mm512_packs_epi32(q[2], q[3]), zp);
    __m512i p = _mm512_max_epu8(_mm512_packus_epi16(lo16, hi16), floor);
    p = _mm512_permutexvar_epi32(order, p);
    uint8_t* c = (uint8_t*)g->C + (t->m0 + r) * g->ldc + t->n0;
    _mm512_mask_storeu_epi8(c, bytes, p);
  }
}

/// Dequantizing epilogue of a tile.
SK_VNNI_INLINE void sk_vnni_store_f32(const int nv, __m512i (*acc)[4], int mr,
                                      const sk_vnni_tile* t) {
  const sk_qgemm_args* g = t->g;
  const sk_dequant* ep = g->dq;
  __m512 scale[4], fbias[4];
  for (int j = 0; j < nv; j++) {
    __mmask16 m = j == nv - 1 ? t->last : 0xFFFF;
    scale[j] = _mm512_maskz_loadu_ps(m, ep->scale + t->n0 + 16 * j);
    fbias[j] = ep->fbias ? _mm512_maskz_loadu_ps(m, ep->fbias + t->n0 + 16 * j)
                         : _mm512_setzero_ps();
  }
  for (int r = 0; r < mr; r++) {
    float* c = (float*)g->C + (t->m0 + r) * g->ldc + t->n0;
    for (int j = 0; j < nv; j++) {
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][j]), scale[j]);
      v = _mm512_add_ps(v, fbias[j]);
      if (ep->relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(c + 16 * j, j == nv - 1 ? t->last : 0xFFFF, v);
    }
  }
}

/// The micro-kernel: mr x nv accumulators per chain; chains > 1 splits K into interleaved
/// independent sums (for one row, where the latency of a single chain would dominate).
SK_VNNI_INLINE void sk_vnni_kernel(const int mr, const int nv, const int chains,
                                   const sk_vnni_tile* t) {
  const sk_qgemm_args* g = t->g;
  const size_t lda = g->lda;
  __m512i acc[ONE_ROW_CHAINS][MR][4];
  for (int c = 0; c < chains; c++)
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < nv; j++) acc[c][r][j] = _mm512_setzero_si512();
  // The int32 bias is exact in any order, so it seeds the accumulators.
  if (g->kind != SK_OUT_S32) {
    const int32_t* bias = g->kind == SK_OUT_U8 ? g->rq->bias : g->dq->bias;
    for (int j = 0; j < nv; j++) {
      __m512i b = _mm512_maskz_loadu_epi32(j == nv - 1 ? t->last : 0xFFFF, bias + t->n0 + 16 * j);
      for (int r = 0; r < mr; r++) acc[0][r][j] = b;
    }
  }
  size_t q = 0;
  for (; q + chains <= t->kq; q += chains) {
    for (int c = 0; c < chains; c++) {
      const int8_t* b = t->B + (q + c) * t->bstride;
      __m512i bv[4];
      for (int j = 0; j < nv; j++) bv[j] = _mm512_loadu_si512(b + 64 * j);
      for (int r = 0; r < mr; r++) {
        int32_t a4;
        memcpy(&a4, t->A + r * lda + 4 * (q + c), 4);
        __m512i av = _mm512_set1_epi32(a4);
        for (int j = 0; j < nv; j++) acc[c][r][j] = _mm512_dpbusd_epi32(acc[c][r][j], av, bv[j]);
      }
    }
  }
  for (; q < t->kq; q++) {
    const int8_t* b = t->B + q * t->bstride;
    for (int r = 0; r < mr; r++) {
      int32_t a4;
      memcpy(&a4, t->A + r * lda + 4 * q, 4);
      __m512i av = _mm512_set1_epi32(a4);
      for (int j = 0; j < nv; j++)
        acc[0][r][j] = _mm512_dpbusd_epi32(acc[0][r][j], av, _mm512_loadu_si512(b + 64 * j));
    }
  }
  for (int c = 1; c < chains; c++)
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < nv; j++) acc[0][r][j] = _mm512_add_epi32(acc[0][r][j], acc[c][r][j]);

  switch (g->kind) {
  case SK_OUT_S32:
    for (int r = 0; r < mr; r++) {
      int32_t* c = (int32_t*)g->C + (t->m0 + r) * g->ldc + t->n0;
      for (int j = 0; j < nv; j++)
        _mm512_mask_storeu_epi32(c + 16 * j, j == nv - 1 ? t->last : 0xFFFF, acc[0][r][j]);
    }
    break;
  case SK_OUT_U8: sk_vnni_store_u8(nv, acc[0], mr, t); break;
  case SK_OUT_F32: sk_vnni_store_f32(nv, acc[0], mr, t); break;
  }
}

// One compiled kernel per tile shape, so every loop above unrolls into registers.
#define SK_VNNI_TILE(mr, nv)                                                     \
  static SK_VNNI void sk_vnni_tile_##mr##_##nv(const sk_vnni_tile* t) {          \
    sk_vnni_kernel(mr, nv, mr == 1 ? ONE_ROW_CHAINS : 1, t);                      \
  }
#define SK_VNNI_ROW(mr) SK_VNNI_TILE(mr, 1) SK_VNNI_TILE(mr, 2) SK_VNNI_TILE(mr, 3) SK_VNNI_TILE(mr, 4)
SK_VNNI_ROW(1)
SK_VNNI_ROW(2)
SK_VNNI_ROW(3)
SK_VNNI_ROW(4)
SK_VNNI_ROW(5)
SK_VNNI_ROW(6)

#define SK_VNNI_ENTRY(mr) \
  {sk_vnni_tile_##mr##_1, sk_vnni_tile_##mr##_2, sk_vnni_tile_##mr##_3, sk_vnni_tile_##mr##_4}
static void (*const sk_vnni_tiles[MR][4])(const sk_vnni_tile*) = {
    SK_VNNI_ENTRY(1), SK_VNNI_ENTRY(2), SK_VNNI_ENTRY(3),
    SK_VNNI_ENTRY(4), SK_VNNI_ENTRY(5), SK_VNNI_ENTRY(6),
};

/// Blocks of B columns that stay in L2; inside, 6-row tiles sweep the panels of the block.
void sk_qgemm_run_vnni(const sk_qgemm_args* g) {
  size_t kp = sk_round_up(g->K, 4), np = sk_round_up(g->N, 16);
  size_t nc = kp ? B_BLOCK_BYTES / kp / PANEL * PANEL : np;
  if (nc < PANEL) nc = PANEL;
  sk_vnni_tile t = {.kq = kp / 4, .g = g};
  for (size_t c0 = g->n_begin; c0 < g->n_end;) {
    size_t c1 = sk_min_size(g->n_end, c0 / PANEL * PANEL + nc);
    for (size_t m0 = 0; m0 < g->M; m0 += MR) {
      size_t mr = sk_min_size(MR, g->M - m0);
      t.A = g->A + m0 * g->lda;
      t.m0 = m0;
      for (size_t n0 = c0; n0 < c1;) {
        size_t p0 = n0 / PANEL * PANEL, w = sk_min_size(PANEL, np - p0);
        size_t n1 = sk_min_size(c1, p0 + w);
        size_t j0 = (n0 - p0) / 16, nv = (n1 - p0 + 15) / 16 - j0;
        size_t tail = n1 - (p0 + 16 * (j0 + nv - 1));
        t.B = (const int8_t*)g->packed + p0 * kp + 64 * j0;
        t.bstride = w * 4;
        t.n0 = n0;
        t.last = (__mmask16)((1u << tail) - 1);
        sk_vnni_tiles[mr - 1][nv - 1](&t);
        n0 = n1;
      }
    }
    c0 = c1;
  }
}

#endif
