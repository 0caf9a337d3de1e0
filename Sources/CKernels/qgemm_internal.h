// Private to CKernels: what the int8 GEMM backends share. Not part of the public API.
#ifndef STARLING_QGEMM_INTERNAL_H
#define STARLING_QGEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ckernels.h"
#include "geometry_internal.h"

/// What a GEMM writes: raw int32, requantized uint8 or dequantized float.
typedef enum { SK_OUT_S32, SK_OUT_U8, SK_OUT_F32 } sk_out_kind;

/// One GEMM call as every backend driver receives it (already validated by the dispatcher).
typedef struct {
  size_t M, N, K;
  const uint8_t* A;
  size_t lda;
  const void* packed;
  size_t n_begin, n_end;
  sk_out_kind kind;
  const sk_requant* rq;  ///< for SK_OUT_U8
  const sk_dequant* dq;  ///< for SK_OUT_F32
  void* C;
  size_t ldc;
} sk_qgemm_args;

/// Rounds x up to a multiple of m.
static inline size_t sk_round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/// The smaller of two sizes.
static inline size_t sk_min_size(size_t a, size_t b) { return a < b ? a : b; }

/// Round half to even of a float with |v| < 2^22, in the default rounding mode. Adding and
/// removing 1.5 * 2^23 leaves no fraction bits, so the FPU's own round-to-nearest-even does
/// the work; unlike rintf it vectorizes on every target (no SSE4.1 needed).
static inline float sk_rhe_small(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}

/// max/min with the x86 maxps/minps operand order, so the scalar code and the SIMD backends
/// agree even on NaN (which then maps to the lower bound).
static inline float sk_fmax_x86(float v, float lo) { return v > lo ? v : lo; }
static inline float sk_fmin_x86(float v, float hi) { return v < hi ? v : hi; }

/// The header's requantization of one value, bit for bit what the SIMD epilogues compute.
/// int32 additions wrap (as vpaddd does) instead of being undefined.
static inline uint8_t sk_requant_one(int32_t acc, int32_t bias, float scale, float lo, float hi,
                                     int32_t zp) {
  float v = (float)(int32_t)((uint32_t)acc + (uint32_t)bias) * scale;
  v = sk_fmin_x86(sk_fmax_x86(v, lo), hi);
  int32_t q = (int32_t)sk_rhe_small(v) + zp;
  return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/// The lowest requantized output, for SIMD epilogues that clamp from below after narrowing
/// to uint8: rounding min(v, hi) and then raising the byte to this floor equals the reference's
/// max-then-min for every v, NaN included (x86 minps(hi, NaN) passes the NaN on, which converts
/// to INT_MIN, saturates to 0 and then rises to the floor, as max(NaN, lo) = lo does), and even
/// for out_min > out_max (the reference then always yields out_max).
static inline uint8_t sk_requant_floor(const sk_requant* ep) {
  int32_t f = ep->out_min < ep->out_max ? ep->out_min : ep->out_max;
  return (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f);
}

/// The header's dequantization of one value.
static inline float sk_dequant_one(int32_t acc, const sk_dequant* ep, size_t n) {
  float v = (float)(int32_t)((uint32_t)acc + (uint32_t)ep->bias[n]) * ep->scale[n];
  v = v + (ep->fbias ? ep->fbias[n] : 0.0f);
  return ep->relu ? sk_fmax_x86(v, 0.0f) : v;
}

// MARK: - Backends
// Each backend has its own packed layout (described in its file): size, pack, and a driver
// that runs one validated call (M > 0, n_begin < n_end, n_begin a multiple of its n block).

size_t sk_qgemm_packed_size_ref(size_t N, size_t K);
void sk_qgemm_pack_ref(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed);
void sk_qgemm_run_ref(const sk_qgemm_args* args);

#if defined(__x86_64__)
size_t sk_qgemm_packed_size_avx2(size_t N, size_t K);
void sk_qgemm_pack_avx2(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed);
void sk_qgemm_run_avx2(const sk_qgemm_args* args);

size_t sk_qgemm_packed_size_vnni(size_t N, size_t K);
void sk_qgemm_pack_vnni(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed);
void sk_qgemm_run_vnni(const sk_qgemm_args* args);
#endif

#endif
