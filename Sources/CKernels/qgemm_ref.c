// The portable int8 GEMM (ground truth for every backend) and the public dispatch.
#include <string.h>

#include "qgemm_internal.h"

// MARK: - Reference backend

// Packed layout: B row by row, each row zero-padded to round_up(K, 4) bytes.

/// Bytes of B packed for the reference.
size_t sk_qgemm_packed_size_ref(size_t N, size_t K) { return N * sk_round_up(K, 4); }

/// Copies B row by row into the padded reference layout.
void sk_qgemm_pack_ref(size_t N, size_t K, const int8_t* B, size_t ldb, void* packed) {
  size_t kp = sk_round_up(K, 4);
  int8_t* out = packed;
  for (size_t n = 0; n < N; n++) {
    memcpy(out + n * kp, B + n * ldb, K);
    memset(out + n * kp + K, 0, kp - K);
  }
}

/// Dot product of K uint8 and int8 values; wraps like the SIMD accumulators.
static int32_t sk_dot_u8s8(const uint8_t* a, const int8_t* b, size_t K) {
  uint32_t acc = 0;
  for (size_t k = 0; k < K; k++) acc += (uint32_t)((int32_t)a[k] * (int32_t)b[k]);
  return (int32_t)acc;
}

/// The ground truth: one dot product per output, the epilogue applied per 64 columns.
void sk_qgemm_run_ref(const sk_qgemm_args* g) {
  enum { CHUNK = 64 };
  size_t kp = sk_round_up(g->K, 4);
  const int8_t* B = g->packed;
  int32_t acc[CHUNK];
  for (size_t m = 0; m < g->M; m++) {
    const uint8_t* a = g->A + m * g->lda;
    for (size_t n0 = g->n_begin; n0 < g->n_end; n0 += CHUNK) {
      size_t cnt = sk_min_size(CHUNK, g->n_end - n0);
      for (size_t i = 0; i < cnt; i++) acc[i] = sk_dot_u8s8(a, B + (n0 + i) * kp, g->K);
      switch (g->kind) {
      case SK_OUT_S32: {
        int32_t* c = (int32_t*)g->C + m * g->ldc + n0;
        memcpy(c, acc, cnt * sizeof(int32_t));
        break;
      }
      case SK_OUT_U8: {
        // Locals, so the byte stores (which may alias anything) do not force reloads.
        const sk_requant* ep = g->rq;
        const int32_t* bias = ep->bias + n0;
        const float* scale = ep->scale + n0;
        int32_t zp = ep->out_zero_point;
        float lo = (float)(ep->out_min - zp), hi = (float)(ep->out_max - zp);
        uint8_t* c = (uint8_t*)g->C + m * g->ldc + n0;
        for (size_t i = 0; i < cnt; i++) c[i] = sk_requant_one(acc[i], bias[i], scale[i], lo, hi, zp);
        break;
      }
      case SK_OUT_F32: {
        float* c = (float*)g->C + m * g->ldc + n0;
        for (size_t i = 0; i < cnt; i++) c[i] = sk_dequant_one(acc[i], g->dq, n0 + i);
        break;
      }
      }
    }
  }
}

// MARK: - Public dispatch

/// The backend that actually serves `isa` (only the reference exists off x86-64).
static sk_isa sk_backend(sk_isa isa) {
#if defined(__x86_64__)
  if (isa == SK_ISA_AVX2 || isa == SK_ISA_AVX512VNNI) return isa;
#else
  (void)isa;
#endif
  return SK_ISA_REFERENCE;
}

size_t sk_qgemm_packed_size(sk_isa isa, size_t N, size_t K) {
  switch (sk_backend(isa)) {
#if defined(__x86_64__)
  case SK_ISA_AVX2: return sk_qgemm_packed_size_avx2(N, K);
  case SK_ISA_AVX512VNNI: return sk_qgemm_packed_size_vnni(N, K);
#endif
  default: return sk_qgemm_packed_size_ref(N, K);
  }
}

size_t sk_qgemm_n_block(sk_isa isa) {
  switch (sk_backend(isa)) {
  case SK_ISA_AVX2: return 8;
  case SK_ISA_AVX512VNNI: return 16;
  default: return 1;
  }
}

void sk_qgemm_pack(sk_isa isa, size_t N, size_t K, const int8_t* B, size_t ldb, void* packed,
                   int32_t* colsum) {
  if (colsum) {
    for (size_t n = 0; n < N; n++) {
      int32_t s = 0;
      for (size_t k = 0; k < K; k++) s += B[n * ldb + k];
      colsum[n] = s;
    }
  }
  switch (sk_backend(isa)) {
#if defined(__x86_64__)
  case SK_ISA_AVX2: sk_qgemm_pack_avx2(N, K, B, ldb, packed); break;
  case SK_ISA_AVX512VNNI: sk_qgemm_pack_vnni(N, K, B, ldb, packed); break;
#endif
  default: sk_qgemm_pack_ref(N, K, B, ldb, packed); break;
  }
}

/// Validates a call and hands it to the backend of `isa`.
static void sk_qgemm_run(sk_isa isa, const sk_qgemm_args* args) {
  if (args->M == 0 || args->n_begin >= args->n_end) return;
  switch (sk_backend(isa)) {
#if defined(__x86_64__)
  case SK_ISA_AVX2: sk_qgemm_run_avx2(args); break;
  case SK_ISA_AVX512VNNI: sk_qgemm_run_vnni(args); break;
#endif
  default: sk_qgemm_run_ref(args); break;
  }
}

void sk_qgemm_requant(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                      const void* packed, size_t n_begin, size_t n_end, const sk_requant* ep,
                      uint8_t* C, size_t ldc) {
  sk_qgemm_args args = {M, N, K, A, lda, packed, n_begin, n_end, SK_OUT_U8, ep, NULL, C, ldc};
  sk_qgemm_run(isa, &args);
}

void sk_qgemm_dequant(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                      const void* packed, size_t n_begin, size_t n_end, const sk_dequant* ep,
                      float* C, size_t ldc) {
  sk_qgemm_args args = {M, N, K, A, lda, packed, n_begin, n_end, SK_OUT_F32, NULL, ep, C, ldc};
  sk_qgemm_run(isa, &args);
}

void sk_qgemm_s32(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                  const void* packed, size_t n_begin, size_t n_end, int32_t* C, size_t ldc) {
  sk_qgemm_args args = {M, N, K, A, lda, packed, n_begin, n_end, SK_OUT_S32, NULL, NULL, C, ldc};
  sk_qgemm_run(isa, &args);
}
