// Starling compute kernels: int8 GEMM/convolution backends with run-time CPU dispatch,
// and float32 kernels for training. Plain C, built with clang, -ffp-contract=off so that
// every backend rounds exactly like the portable reference.
//
// Conventions
// - Activations are uint8 with a zero point (asymmetric, per tensor); weights are int8,
//   symmetric per output channel; accumulators are int32.
// - GEMM computes acc[m][n] = sum_k A[m][k] * B[n][k] with A uint8 (M x K, row stride lda)
//   and B int8 (N x K, one row per output channel). The activation zero point is folded
//   into the int32 bias by the caller: bias[n] = qbias[n] - zpA * colsum[n].
// - Requantization (fp32, deterministic on every architecture):
//     v = (float)(acc + bias[n]) * scale[n]
//     v = min(max(v, (float)(out_min - zp)), (float)(out_max - zp))
//     out = (uint8_t)(round_half_even(v) + zp)
// - NHWC layout everywhere. Sizes are size_t; strides are in elements.
#ifndef STARLING_CKERNELS_H
#define STARLING_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU features

/// Instruction sets an int8 kernel can be built for.
typedef enum {
  SK_ISA_REFERENCE = 0,   ///< portable scalar C: the ground truth and the fallback
  SK_ISA_AVX2 = 1,        ///< x86-64 AVX2, exact 16-bit products (no vpmaddubsw saturation)
  SK_ISA_AVX512VNNI = 2,  ///< x86-64 AVX-512 VNNI (vpdpbusd zmm)
  SK_ISA_COUNT = 3
} sk_isa;

/// 1 when this CPU (and OS) can run kernels built for `isa`.
int sk_isa_available(sk_isa isa);
/// The fastest available instruction set.
sk_isa sk_isa_best(void);
/// A short stable name: "reference", "avx2", "avx512vnni".
const char* sk_isa_name(sk_isa isa);

// MARK: - int8 GEMM

/// Requantizing epilogue: writes uint8 (see the header comment for the exact formula).
typedef struct {
  const int32_t* bias;     ///< N entries, indexed by absolute column
  const float* scale;      ///< N entries
  int32_t out_zero_point;  ///< 0...255
  int32_t out_min;         ///< clamp bounds in the uint8 domain (fused ReLU / ReLU6)
  int32_t out_max;
} sk_requant;

/// Dequantizing epilogue: C[m][n] = (float)(acc + bias[n]) * scale[n] + (fbias ? fbias[n] : 0),
/// then max(.., 0) when relu != 0.
typedef struct {
  const int32_t* bias;   ///< N entries
  const float* scale;    ///< N entries
  const float* fbias;    ///< N entries or NULL
  int32_t relu;
} sk_dequant;

/// Bytes needed for B packed for `isa` (N x K). Packed buffers must be 64-byte aligned.
size_t sk_qgemm_packed_size(sk_isa isa, size_t N, size_t K);
/// Column-block granularity of `isa`: n_begin passed to the GEMMs must be a multiple of it.
size_t sk_qgemm_n_block(sk_isa isa);
/// Packs B (N x K int8, row stride ldb) for `isa`; writes colsum[n] = sum_k B[n][k] if colsum != NULL.
void sk_qgemm_pack(sk_isa isa, size_t N, size_t K, const int8_t* B, size_t ldb, void* packed,
                   int32_t* colsum);

// A is read K bytes per row, but kernels may read up to round_up(K, 4) bytes of each row
// (the values past K are multiplied by zero weights): allocate lda >= round_up(K, 4).
// Output columns [n_begin, n_end) are computed; C points at column 0 of row 0.

/// uint8 out with requantization.
void sk_qgemm_requant(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                      const void* packed, size_t n_begin, size_t n_end, const sk_requant* ep,
                      uint8_t* C, size_t ldc);
/// float out with dequantization.
void sk_qgemm_dequant(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                      const void* packed, size_t n_begin, size_t n_end, const sk_dequant* ep,
                      float* C, size_t ldc);
/// Raw int32 accumulators (no bias), for tests and diagnostics.
void sk_qgemm_s32(sk_isa isa, size_t M, size_t N, size_t K, const uint8_t* A, size_t lda,
                  const void* packed, size_t n_begin, size_t n_end, int32_t* C, size_t ldc);

// MARK: - Convolution geometry

/// 2-D convolution / pooling geometry, NHWC. Output size is the caller's (ONNX rules).
typedef struct {
  size_t batch, in_h, in_w, in_c;       ///< input tensor (in_c = total channels of the tensor)
  size_t out_h, out_w;
  size_t kernel_h, kernel_w;
  size_t stride_h, stride_w;
  size_t dilation_h, dilation_w;
  size_t pad_top, pad_left;             ///< bottom/right padding is implied by out_h/out_w
} sk_conv_geom;

/// im2col (uint8): rows [p_begin, p_end) of the M = batch*out_h*out_w output positions.
/// Row r holds kernel_h*kernel_w*c_count bytes in (kh, kw, c) order, taken from input
/// channels [c_begin, c_begin + c_count); padding positions hold pad_value (the zero point).
/// Row stride ldr; bytes between the row length and ldr are left untouched.
void sk_im2col_u8(const sk_conv_geom* g, size_t c_begin, size_t c_count, const uint8_t* input,
                  size_t p_begin, size_t p_end, uint8_t pad_value, uint8_t* out, size_t ldr);

/// Full int8 convolution for one group through the GEMM kernels: weights packed as
/// N = out channels of the group, K = kernel_h*kernel_w*c_count in (kh, kw, c) order.
/// Reads input channels [c_begin, c_begin+c_count), writes output channels
/// [oc_begin, oc_begin+N) of an output tensor with out_c channels.
/// `scratch` must hold sk_qconv_scratch_size(isa, g, c_count) bytes (64-byte aligned), enough
/// for any c_begin. `isa` is reserved: the size does not depend on the backend today, the
/// argument is kept for API stability. 1x1 stride-1 unpadded convolutions skip im2col: the
/// input pixels are the GEMM rows, except the last few (whose round_up(K, 4)-byte reads could
/// run past the tensor), which go through scratch; the input is only read within its bounds.
size_t sk_qconv_scratch_size(sk_isa isa, const sk_conv_geom* g, size_t c_count);
void sk_qconv2d_requant(sk_isa isa, const sk_conv_geom* g, size_t c_begin, size_t c_count,
                        const uint8_t* input, uint8_t in_zero_point, const void* packed,
                        size_t N, const sk_requant* ep, uint8_t* output, size_t out_c,
                        size_t oc_begin, void* scratch);

/// Depthwise int8 convolution: out channel oc reads input channel oc / multiplier.
/// Weights int8 [kernel_h][kernel_w][in_c*multiplier]; bias has the zero point folded in by
/// the caller per output channel (bias[oc] = qbias[oc] - zp_in * sum of that channel's weights).
void sk_qdwconv2d_requant(const sk_conv_geom* g, size_t multiplier, const uint8_t* input,
                          uint8_t in_zero_point, const int8_t* weights, const sk_requant* ep,
                          uint8_t* output);

// MARK: - int8 elementwise and pooling

/// q = clamp(round_half_even(x / scale) + zp, 0, 255); NaN maps to zp.
void sk_quantize_u8(size_t n, const float* x, float scale, int32_t zp, uint8_t* q);
/// x = (float)(q - zp) * scale
void sk_dequantize_u8(size_t n, const uint8_t* q, float scale, int32_t zp, float* x);
/// out = clamp(rhe((float)(a - za) * ka + (float)(b - zb) * kb) + zo, out_min, out_max)
/// with ka = sa / so and kb = sb / so computed by the caller.
void sk_qadd_u8(size_t n, const uint8_t* a, int32_t za, float ka, const uint8_t* b, int32_t zb,
                float kb, int32_t zo, int32_t out_min, int32_t out_max, uint8_t* out);
/// Max pooling on uint8 (scale and zero point pass through); padding is ignored. A window
/// entirely in the padding yields zero_point (real 0.0, as sk_maxpool_f32 and sk_qavgpool_u8).
void sk_qmaxpool_u8(const sk_conv_geom* g, const uint8_t* input, uint8_t zero_point,
                    uint8_t* output);
/// Average pooling: sum of (q - zin) over the window, divided by the count (the full window
/// when count_include_pad, else the valid positions), times k = sin / sout, rhe, + zout.
void sk_qavgpool_u8(const sk_conv_geom* g, int count_include_pad, const uint8_t* input,
                    int32_t zin, float k, int32_t zout, uint8_t* output);

// MARK: - float32 kernels (training and the float path)

/// C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T (trans != 0).
/// beta == 0 ignores the previous contents of C (even NaN).
void sk_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
              const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
              size_t ldc);
/// float im2col, same layout as sk_im2col_u8, padding = 0.
void sk_im2col_f32(const sk_conv_geom* g, size_t c_begin, size_t c_count, const float* input,
                   size_t p_begin, size_t p_end, float* out, size_t ldr);
/// Adjoint of sk_im2col_f32: accumulates (+=) columns back into the input gradient.
void sk_col2im_f32(const sk_conv_geom* g, size_t c_begin, size_t c_count, const float* cols,
                   size_t p_begin, size_t p_end, size_t ldr, float* input_grad);
/// Depthwise convolution forward; weights [kh][kw][in_c*multiplier], bias may be NULL.
void sk_dwconv2d_f32(const sk_conv_geom* g, size_t multiplier, const float* input,
                     const float* weights, const float* bias, float* output);
/// Depthwise backward: accumulates (+=) into input_grad (if not NULL), weight_grad and
/// bias_grad (if not NULL).
void sk_dwconv2d_backward_f32(const sk_conv_geom* g, size_t multiplier, const float* input,
                              const float* weights, const float* out_grad, float* input_grad,
                              float* weight_grad, float* bias_grad);
/// Max pooling forward; argmax (if not NULL) receives the flat input index of each output.
void sk_maxpool_f32(const sk_conv_geom* g, const float* input, float* output, int32_t* argmax);
/// Max pooling backward: input_grad[argmax[i]] += out_grad[i] (input_grad zeroed by caller).
void sk_maxpool_backward_f32(size_t n_out, const int32_t* argmax, const float* out_grad,
                             float* input_grad);
/// Average pooling forward / backward (backward accumulates into input_grad).
void sk_avgpool_f32(const sk_conv_geom* g, int count_include_pad, const float* input,
                    float* output);
void sk_avgpool_backward_f32(const sk_conv_geom* g, int count_include_pad, const float* out_grad,
                             float* input_grad);

// MARK: - Checksums

/// CRC-32 (IEEE 802.3, reflected, zlib's crc32): continues `crc` (0 to start) over n bytes,
/// so that sk_crc32(sk_crc32(0, a, n), b, m) is the CRC of a followed by b. Uses carry-less
/// multiplication on x86-64 CPUs that have it, slice-by-8 tables elsewhere.
uint32_t sk_crc32(uint32_t crc, const void* data, size_t n);
/// The same with the portable slice-by-8 tables only (for tests and comparison).
uint32_t sk_crc32_portable(uint32_t crc, const void* data, size_t n);
/// 1 when sk_crc32 uses carry-less multiplication on this CPU.
int sk_crc32_accelerated(void);

#ifdef __cplusplus
}
#endif

#endif
