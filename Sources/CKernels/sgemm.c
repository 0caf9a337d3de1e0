// Float32 GEMM for training: cache blocking, packing and a register-tiled microkernel.
//
// The microkernel is written once with clang's generic vector type (16 floats, lowered to
// zmm, ymm pairs or xmm quads) and instantiated per instruction set with target
// attributes; the instance is chosen once at run time. Summation order depends only on the
// shape and the instance, so results are reproducible on a given machine.
#include "ckernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// FMA contraction is wanted here (the int8 kernels need it off, the target default).
#pragma clang fp contract(fast)

#define INLINE static inline __attribute__((always_inline))

typedef float v16 __attribute__((vector_size(64), aligned(4)));

#define LOADV(dst, src) __builtin_memcpy(&(dst), (src), sizeof(v16))
#define STOREV(dst, src) __builtin_memcpy((dst), &(src), sizeof(v16))

enum { MR_MAX = 8, NV_MAX = 2, NR_MAX = 16 * NV_MAX };

/// One call's operands; op(A) is M x K and op(B) is K x N.
typedef struct {
  int ta, tb;
  size_t M, N, K;
  float alpha, beta;
  const float* A;
  size_t lda;
  const float* B;
  size_t ldb;
  float* C;
  size_t ldc;
} problem;

/// Blocking of one instruction-set instance: K and N block sizes.
typedef struct {
  size_t kc, nc;
} blocking;

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

// MARK: - Workspace

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static _Thread_local float* ws_ptr;
static _Thread_local size_t ws_cap;

static void ws_free(void* p) { free(p); }
static void ws_init(void) { pthread_key_create(&ws_key, ws_free); }

/// A per-thread, 64-byte aligned scratch buffer of at least `floats` floats (NULL on OOM).
static float* workspace(size_t floats) {
  if (ws_cap >= floats) return ws_ptr;
  pthread_once(&ws_once, ws_init);
  size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
  float* p = aligned_alloc(64, bytes);
  if (!p) return NULL;
  free(ws_ptr);
  ws_ptr = p;
  ws_cap = bytes / sizeof(float);
  pthread_setspecific(ws_key, p);
  return p;
}

// MARK: - Packing
// Padding lanes only feed outputs that are discarded, but they are zeroed anyway: stale
// denormals there would cost microcode assists on every FMA.

typedef float v8 __attribute__((vector_size(32), aligned(4)));

/// Transposes an 8 x 8 block: dst[k * ldd + r] = src[r * lds + k].
INLINE void transpose8(const float* src, size_t lds, float* dst, size_t ldd) {
  v8 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++) __builtin_memcpy(&r[i], src + i * lds, sizeof(v8));
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  for (int i = 0; i < 4; i++) {
    v8 lo = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    v8 hi = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    __builtin_memcpy(dst + i * ldd, &lo, sizeof(v8));
    __builtin_memcpy(dst + (i + 4) * ldd, &hi, sizeof(v8));
  }
}

/// Transposes a 16 x 16 block: dst[k * ldd + r] = src[r * lds + k].
INLINE void transpose16(const float* src, size_t lds, float* dst, size_t ldd) {
  v16 r[16], t[16], u[16];
  for (int i = 0; i < 16; i++) LOADV(r[i], src + i * lds);
  // Within 128-bit lanes: 2x2 blocks of floats, then 4x4 blocks.
  for (int i = 0; i < 16; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12,
                                   28, 13, 29);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11,
                                       27, 14, 30, 15, 31);
  }
  for (int i = 0; i < 16; i += 4) {
    for (int h = 0; h < 2; h++) {
      u[i + 2 * h] = __builtin_shufflevector(t[i + h], t[i + h + 2], 0, 1, 16, 17, 4, 5, 20, 21,
                                             8, 9, 24, 25, 12, 13, 28, 29);
      u[i + 2 * h + 1] = __builtin_shufflevector(t[i + h], t[i + h + 2], 2, 3, 18, 19, 6, 7, 22,
                                                 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  }
  // u[4g + j] lane L holds rows 4g..4g+3 of column 4L + j; regroup whole lanes.
  for (int j = 0; j < 4; j++) {
    v16 x0 = __builtin_shufflevector(u[j], u[4 + j], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19,
                                     24, 25, 26, 27);
    v16 x1 = __builtin_shufflevector(u[j], u[4 + j], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23,
                                     28, 29, 30, 31);
    v16 y0 = __builtin_shufflevector(u[8 + j], u[12 + j], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18,
                                     19, 24, 25, 26, 27);
    v16 y1 = __builtin_shufflevector(u[8 + j], u[12 + j], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21,
                                     22, 23, 28, 29, 30, 31);
    v16 c0 = __builtin_shufflevector(x0, y0, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25,
                                     26, 27);
    v16 c8 = __builtin_shufflevector(x0, y0, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29,
                                     30, 31);
    v16 c4 = __builtin_shufflevector(x1, y1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25,
                                     26, 27);
    v16 c12 = __builtin_shufflevector(x1, y1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29,
                                      30, 31);
    STOREV(dst + j * ldd, c0);
    STOREV(dst + (j + 4) * ldd, c4);
    STOREV(dst + (j + 8) * ldd, c8);
    STOREV(dst + (j + 12) * ldd, c12);
  }
}

/// dst[k * W + r] = src[r * ld + k] for r < rows, 0 for rows <= r < W; k < kc.
INLINE void pack_transposed(const float* src, size_t ld, size_t rows, size_t kc, const int W,
                            float* dst) {
  size_t r = 0;
  if (W % 16 == 0) {
    for (; r + 16 <= rows; r += 16) {
      size_t k = 0;
      for (; k + 16 <= kc; k += 16) transpose16(src + r * ld + k, ld, dst + k * W + r, W);
#pragma clang loop vectorize(disable)
      for (; k < kc; k++)
        for (size_t i = 0; i < 16; i++) dst[k * W + r + i] = src[(r + i) * ld + k];
    }
  }
  for (; r + 8 <= rows; r += 8) {
    size_t k = 0;
    for (; k + 8 <= kc; k += 8) transpose8(src + r * ld + k, ld, dst + k * W + r, W);
#pragma clang loop vectorize(disable)
    for (; k < kc; k++)
      for (size_t i = 0; i < 8; i++) dst[k * W + r + i] = src[(r + i) * ld + k];
  }
  for (; r < rows; r++)
#pragma clang loop vectorize(disable)
    for (size_t k = 0; k < kc; k++) dst[k * W + r] = src[r * ld + k];
  for (; r < (size_t)W; r++)
#pragma clang loop vectorize(disable)
    for (size_t k = 0; k < kc; k++) dst[k * W + r] = 0;
}

/// dst[k * W + c] = src[k * ld + c] for c < cols, 0 for cols <= c < W; k < kc.
INLINE void pack_straight(const float* src, size_t ld, size_t cols, size_t kc, const int W,
                          float* dst) {
  for (size_t k = 0; k < kc; k++) {
    const float* s = src + k * ld;
    float* d = dst + k * W;
    size_t c = 0;
    for (; c < cols; c++) d[c] = s[c];
    for (; c < (size_t)W; c++) d[c] = 0;
  }
}

/// Packs rows [i0, i0+mr) x cols [k0, k0+kc) of op(A) as kc groups of MR (zero padded).
INLINE void pack_a(const problem* p, const int MR, size_t i0, size_t mr, size_t k0, size_t kc,
                   float* dst) {
  if (p->ta)
    pack_straight(p->A + k0 * p->lda + i0, p->lda, mr, kc, MR, dst);
  else
    pack_transposed(p->A + i0 * p->lda + k0, p->lda, mr, kc, MR, dst);
}

/// Packs rows [k0, k0+kc) x cols [j0, j0+nr) of op(B) as kc groups of NR (zero padded).
INLINE void pack_b(const problem* p, const int NR, size_t k0, size_t kc, size_t j0, size_t nr,
                   float* dst) {
  if (p->tb)
    pack_transposed(p->B + j0 * p->ldb + k0, p->ldb, nr, kc, NR, dst);
  else
    pack_straight(p->B + k0 * p->ldb + j0, p->ldb, nr, kc, NR, dst);
}

// MARK: - Microkernel

/// acc = op(A) tile * op(B) tile over kc steps; a(i, k) = a[i * a_rs + k * a_cs], b row k at
/// b + k * b_rs. Writes mv x nv of alpha * acc + beta * C (beta == 0: C is not read).
INLINE void micro(const int MR, const int NV, size_t kc, const float* restrict a, size_t a_rs,
                  size_t a_cs, const float* restrict b, size_t b_rs, float alpha, float beta,
                  float* restrict c, size_t ldc, size_t mv, size_t nv) {
  v16 acc[MR_MAX][NV_MAX];
#pragma clang loop unroll(full)
  for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
    for (int v = 0; v < NV; v++) acc[i][v] = (v16){0};

#pragma clang loop unroll(disable)
  for (size_t k = 0; k < kc; k++) {
    v16 bv[NV_MAX];
#pragma clang loop unroll(full)
    for (int v = 0; v < NV; v++) LOADV(bv[v], b + k * b_rs + 16 * v);
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
      float ai = a[i * a_rs + k * a_cs];
#pragma clang loop unroll(full)
      for (int v = 0; v < NV; v++) acc[i][v] += bv[v] * ai;
    }
  }

  if (mv == (size_t)MR && nv == (size_t)(16 * NV)) {
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
#pragma clang loop unroll(full)
      for (int v = 0; v < NV; v++) {
        float* cp = c + i * ldc + 16 * v;
        v16 r = acc[i][v] * alpha;
        if (beta != 0) {
          v16 old;
          LOADV(old, cp);
          r = acc[i][v] * alpha + old * beta;
        }
        STOREV(cp, r);
      }
    }
    return;
  }
  float buf[MR_MAX * NR_MAX];
#pragma clang loop unroll(full)
  for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
    for (int v = 0; v < NV; v++) STOREV(buf + i * 16 * NV + 16 * v, acc[i][v]);
  for (size_t i = 0; i < mv; i++) {
    float* cp = c + i * ldc;
    const float* t = buf + i * 16 * NV;
    if (beta != 0) {
      for (size_t j = 0; j < nv; j++) cp[j] = t[j] * alpha + cp[j] * beta;
    } else {
      for (size_t j = 0; j < nv; j++) cp[j] = t[j] * alpha;
    }
  }
}

/// One tile, using a half-height and/or single-vector kernel for ragged edges.
INLINE void tile(const int MR, const int NV, size_t kc, const float* restrict a, size_t a_rs,
                 size_t a_cs, const float* restrict b, size_t b_rs, float alpha, float beta,
                 float* restrict c, size_t ldc, size_t mv, size_t nv) {
  const int half = MR / 2 > 0 ? MR / 2 : 1;
  if (NV > 1 && nv <= 16) {
    if (mv <= (size_t)half)
      micro(half, 1, kc, a, a_rs, a_cs, b, b_rs, alpha, beta, c, ldc, mv, nv);
    else
      micro(MR, 1, kc, a, a_rs, a_cs, b, b_rs, alpha, beta, c, ldc, mv, nv);
  } else if (mv <= (size_t)half) {
    micro(half, NV, kc, a, a_rs, a_cs, b, b_rs, alpha, beta, c, ldc, mv, nv);
  } else {
    micro(MR, NV, kc, a, a_rs, a_cs, b, b_rs, alpha, beta, c, ldc, mv, nv);
  }
}

// MARK: - Driver

/// Floats of workspace the blocked driver needs for `p`.
static size_t workspace_floats(const problem* p, blocking bk, int MR, int NR) {
  size_t kc = min_sz(bk.kc, p->K);
  size_t nc = min_sz(bk.nc, (p->N + NR - 1) / NR * NR);
  return kc * (nc + MR);
}

/// The blocked GEMM for one microkernel shape (MR rows x 16*NV columns).
INLINE void gemm_blocked(const problem* p, const int MR, const int NV, blocking bk, float* ws) {
  const size_t NR = 16 * (size_t)NV;
  // Packing op(B) pays off when it must be transposed, or when it is reused by many row
  // tiles and too big for L1; otherwise B is read in place (ragged edge panels are packed).
  const int packB = p->tb || (p->M > 4 * (size_t)MR && p->K * p->N > 16384);
  const int packA = !p->ta && p->N > 4 * NR;
  const size_t kc_max = min_sz(bk.kc, p->K);
  float* bbuf = ws;
  float* abuf = bbuf + kc_max * min_sz(bk.nc, (p->N + NR - 1) / NR * NR);

  for (size_t jc = 0; jc < p->N; jc += bk.nc) {
    size_t nc = min_sz(bk.nc, p->N - jc);
    for (size_t pc = 0; pc < p->K; pc += bk.kc) {
      size_t kc = min_sz(bk.kc, p->K - pc);
      float beta = pc == 0 ? p->beta : 1.0f;
      size_t n_full = packB ? 0 : nc / NR * NR;
      // Packed panels (all of them, or only the ragged right edge when streaming B).
      for (size_t jr = n_full; jr < nc; jr += NR)
        pack_b(p, (int)NR, pc, kc, jc + jr, min_sz(NR, nc - jr), bbuf + jr * kc);

      // The A panel (MR x kc) stays in L1 while the B block streams from L2.
      for (size_t ir = 0; ir < p->M; ir += MR) {
        size_t mv = min_sz(MR, p->M - ir);
        const float* ap;
        size_t a_cs = MR;
        int rows = 0;  // 1: A read in place row by row (a(i, k) = ap[i * lda + k])
        if (packA || mv < (size_t)MR) {
          pack_a(p, MR, ir, mv, pc, kc, abuf);
          ap = abuf;
        } else if (p->ta) {
          ap = p->A + pc * p->lda + ir;
          a_cs = p->lda;
        } else {
          ap = p->A + ir * p->lda + pc;
          rows = 1;
        }
        for (size_t jr = 0; jr < nc; jr += NR) {
          size_t nv = min_sz(NR, nc - jr);
          const float* bp;
          size_t b_rs;
          if (jr < n_full) {
            bp = p->B + pc * p->ldb + jc + jr;
            b_rs = p->ldb;
          } else {
            bp = bbuf + jr * kc;
            b_rs = NR;
          }
          float* cp = p->C + ir * p->ldc + jc + jr;
          if (rows)
            tile(MR, NV, kc, ap, p->lda, 1, bp, b_rs, p->alpha, beta, cp, p->ldc, mv, nv);
          else
            tile(MR, NV, kc, ap, 1, a_cs, bp, b_rs, p->alpha, beta, cp, p->ldc, mv, nv);
        }
      }
    }
  }
}

// MARK: - Instances and dispatch

/// C = beta * C for the degenerate cases (alpha == 0 or K == 0).
static void scale_c(const problem* p) {
  for (size_t i = 0; i < p->M; i++) {
    float* c = p->C + i * p->ldc;
    if (p->beta == 0) {
      memset(c, 0, p->N * sizeof(float));
    } else if (p->beta != 1) {
      for (size_t j = 0; j < p->N; j++) c[j] *= p->beta;
    }
  }
}

/// Unblocked fallback for when the workspace cannot be allocated.
static void gemm_unblocked(const problem* p) {
  for (size_t i = 0; i < p->M; i++) {
    for (size_t j = 0; j < p->N; j++) {
      float s = 0;
      for (size_t k = 0; k < p->K; k++) {
        float a = p->ta ? p->A[k * p->lda + i] : p->A[i * p->lda + k];
        float b = p->tb ? p->B[j * p->ldb + k] : p->B[k * p->ldb + j];
        s += a * b;
      }
      float* c = p->C + i * p->ldc + j;
      *c = p->beta == 0 ? p->alpha * s : p->alpha * s + p->beta * *c;
    }
  }
}

#define GEMM_INSTANCE(name, attr, MR, NV, KC, NC)                        \
  attr static void name(const problem* p) {                              \
    const blocking bk = {KC, NC};                                        \
    float* ws = workspace(workspace_floats(p, bk, MR, 16 * NV));         \
    if (ws)                                                              \
      gemm_blocked(p, MR, NV, bk, ws);                                   \
    else                                                                 \
      gemm_unblocked(p);                                                 \
  }

#if defined(__x86_64__) || defined(__i386__)
// AVX-512: 8 x 32 tiles (16 zmm accumulators); AVX2: 6 x 16 (12 ymm); SSE2: 2 x 16 (8 xmm);
// elsewhere (NEON, 32 registers): 6 x 16 (24 q registers).
GEMM_INSTANCE(gemm_avx512, __attribute__((target("avx512f"))), 8, 2, 256, 1024)
GEMM_INSTANCE(gemm_avx2, __attribute__((target("avx2,fma"))), 6, 1, 256, 1024)
GEMM_INSTANCE(gemm_base, , 2, 1, 256, 1024)
#else
GEMM_INSTANCE(gemm_base, , 6, 1, 256, 1024)
#endif

typedef void (*gemm_fn)(const problem*);

/// The instance for this CPU, chosen once.
static gemm_fn select_gemm(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return gemm_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemm_avx2;
#endif
  return gemm_base;
}

static gemm_fn gemm_impl;
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static void gemm_init(void) { gemm_impl = select_gemm(); }

void sk_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
              const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
              size_t ldc) {
  if (M == 0 || N == 0) return;
  problem p = {trans_a != 0, trans_b != 0, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
  if (K == 0 || alpha == 0) {
    scale_c(&p);
    return;
  }
  pthread_once(&gemm_once, gemm_init);
  gemm_impl(&p);
}
