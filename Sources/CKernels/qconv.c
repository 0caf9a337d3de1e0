// Int8 convolution: im2col into an L2-sized block, then the GEMM kernels; and depthwise.
#include <string.h>

#include "qgemm_internal.h"

enum {
  IM2COL_BLOCK_BYTES = 256 << 10,  // one block of im2col rows, meant to stay in L2
  ROW_MULTIPLE = 12,               // whole register tiles for every backend (6 and 4 rows)
  DW_CHANNELS = 256,               // depthwise accumulators kept on the stack
};

void sk_im2col_u8(const sk_conv_geom* g, size_t c_begin, size_t c_count, const uint8_t* input,
                  size_t p_begin, size_t p_end, uint8_t pad_value, uint8_t* out, size_t ldr) {
  size_t plane = g->out_h * g->out_w;
  for (size_t p = p_begin; p < p_end; p++) {
    size_t b = p / plane, oy = p % plane / g->out_w, ox = p % g->out_w;
    const uint8_t* image = input + b * g->in_h * g->in_w * g->in_c + c_begin;
    uint8_t* dst = out + (p - p_begin) * ldr;
    for (size_t ky = 0; ky < g->kernel_h; ky++) {
      ptrdiff_t iy = sk_tap(oy, g->stride_h, g->pad_top, ky, g->dilation_h, g->in_h);
      // All channels, no dilation, no padding in this kernel row: its taps are one run of
      // bytes (a big saving for first layers with 1-4 channels).
      ptrdiff_t x0 = sk_tap(ox, g->stride_w, g->pad_left, 0, g->dilation_w, g->in_w);
      ptrdiff_t x1 = sk_tap(ox, g->stride_w, g->pad_left, g->kernel_w - 1, g->dilation_w, g->in_w);
      if (c_count == g->in_c && g->dilation_w <= 1 && iy >= 0 && x0 >= 0 && x1 >= 0) {
        memcpy(dst, image + ((size_t)iy * g->in_w + (size_t)x0) * g->in_c, g->kernel_w * c_count);
        dst += g->kernel_w * c_count;
        continue;
      }
      for (size_t kx = 0; kx < g->kernel_w; kx++, dst += c_count) {
        ptrdiff_t ix = sk_tap(ox, g->stride_w, g->pad_left, kx, g->dilation_w, g->in_w);
        if (iy < 0 || ix < 0)
          memset(dst, pad_value, c_count);
        else
          memcpy(dst, image + ((size_t)iy * g->in_w + (size_t)ix) * g->in_c, c_count);
      }
    }
  }
}

/// 1x1, stride 1, no padding: the input pixels already are the GEMM rows.
static int sk_qconv_is_pointwise(const sk_conv_geom* g) {
  return g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
         g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

/// im2col rows per block: a block fits in IM2COL_BLOCK_BYTES, in whole register tiles.
static size_t sk_qconv_block_rows(size_t M, size_t ldr) {
  size_t rows = IM2COL_BLOCK_BYTES / (ldr ? ldr : 1) / ROW_MULTIPLE * ROW_MULTIPLE;
  if (rows < ROW_MULTIPLE) rows = ROW_MULTIPLE;
  return rows < M ? rows : M;
}

/// Pointwise rows (pixels) at the end of the input that go through scratch: the kernels read
/// ldr = round_up(K, 4) bytes of a row, so row m (starting at m * in_c + c_begin) reads past
/// the M * in_c bytes of the input when (M - m) * in_c < c_begin + ldr. That is the last
/// pixel for a slice at the end of a wide tensor, but up to 3 pixels when in_c is 1 or 2.
static size_t sk_qconv_tail_rows(size_t M, size_t in_c, size_t c_begin, size_t ldr) {
  size_t rows = in_c && ldr ? (c_begin + ldr - 1) / in_c : 0;
  return rows < M ? rows : M;
}

size_t sk_qconv_scratch_size(sk_isa isa, const sk_conv_geom* g, size_t c_count) {
  (void)isa;  // reserved: the scratch size does not depend on the backend
  size_t ldr = sk_round_up(g->kernel_h * g->kernel_w * c_count, 4);
  if (sk_qconv_is_pointwise(g)) {
    // The tail is longest for the last slice of the tensor, c_begin = in_c - c_count.
    size_t c_begin = g->in_c >= c_count ? g->in_c - c_count : 0;
    return sk_qconv_tail_rows(g->batch * g->out_h * g->out_w, g->in_c, c_begin, ldr) * ldr;
  }
  return sk_qconv_block_rows(g->batch * g->out_h * g->out_w, ldr) * ldr;
}

void sk_qconv2d_requant(sk_isa isa, const sk_conv_geom* g, size_t c_begin, size_t c_count,
                        const uint8_t* input, uint8_t in_zero_point, const void* packed,
                        size_t N, const sk_requant* ep, uint8_t* output, size_t out_c,
                        size_t oc_begin, void* scratch) {
  size_t M = g->batch * g->out_h * g->out_w;
  size_t K = g->kernel_h * g->kernel_w * c_count, ldr = sk_round_up(K, 4);
  uint8_t* out = output + oc_begin;
  uint8_t* cols = scratch;
  if (M == 0 || N == 0) return;
  if (sk_qconv_is_pointwise(g)) {
    // The input pixels are the GEMM rows, except the last few whose padded reads would run
    // past the end of the tensor: those are copied into scratch, zero-padded to ldr.
    size_t tail = sk_qconv_tail_rows(M, g->in_c, c_begin, ldr), direct = M - tail;
    sk_qgemm_requant(isa, direct, N, K, input + c_begin, g->in_c, packed, 0, N, ep, out, out_c);
    for (size_t r = 0; r < tail; r++) {
      memcpy(cols + r * ldr, input + (direct + r) * g->in_c + c_begin, K);
      memset(cols + r * ldr + K, 0, ldr - K);
    }
    sk_qgemm_requant(isa, tail, N, K, cols, ldr, packed, 0, N, ep, out + direct * out_c, out_c);
    return;
  }
  size_t rows = sk_qconv_block_rows(M, ldr);
  // The bytes past K are multiplied by zero weights; clear them once so they are defined.
  for (size_t r = 0; r < rows; r++) memset(cols + r * ldr + K, 0, ldr - K);
  for (size_t p = 0; p < M; p += rows) {
    size_t count = sk_min_size(rows, M - p);
    sk_im2col_u8(g, c_begin, c_count, input, p, p + count, in_zero_point, cols, ldr);
    sk_qgemm_requant(isa, count, N, K, cols, ldr, packed, 0, N, ep, out + p * out_c, out_c);
  }
}

// MARK: - Depthwise

/// Depthwise loops, vectorized by the compiler over channels; inlined into a plain, an AVX2 and
/// an AVX-512 copy. Integer sums and the same float operations make the copies bit-identical.
static inline __attribute__((always_inline)) void sk_qdwconv_body(
    const sk_conv_geom* g, size_t multiplier, const uint8_t* input, uint8_t in_zero_point,
    const int8_t* weights, const sk_requant* ep, uint8_t* output) {
  size_t C = g->in_c, OC = C * multiplier;
  // Locals, so the byte stores (which may alias anything) do not force reloads.
  const int32_t* bias = ep->bias;
  const float* scale = ep->scale;
  int32_t zp = ep->out_zero_point;
  float lo = (float)(ep->out_min - zp), hi = (float)(ep->out_max - zp);
  int32_t acc[DW_CHANNELS];
  for (size_t b = 0; b < g->batch; b++) {
    const uint8_t* image = input + b * g->in_h * g->in_w * C;
    for (size_t oy = 0; oy < g->out_h; oy++) {
      for (size_t ox = 0; ox < g->out_w; ox++) {
        uint8_t* out = output + ((b * g->out_h + oy) * g->out_w + ox) * OC;
        for (size_t oc0 = 0; oc0 < OC; oc0 += DW_CHANNELS) {
          size_t count = sk_min_size(DW_CHANNELS, OC - oc0);
          for (size_t i = 0; i < count; i++) acc[i] = 0;
          for (size_t ky = 0; ky < g->kernel_h; ky++) {
            ptrdiff_t iy = sk_tap(oy, g->stride_h, g->pad_top, ky, g->dilation_h, g->in_h);
            for (size_t kx = 0; kx < g->kernel_w; kx++) {
              ptrdiff_t ix = sk_tap(ox, g->stride_w, g->pad_left, kx, g->dilation_w, g->in_w);
              const int8_t* w = weights + (ky * g->kernel_w + kx) * OC + oc0;
              // Padding holds the zero point, which the folded bias cancels.
              if (iy < 0 || ix < 0) {
                for (size_t i = 0; i < count; i++) acc[i] += w[i] * (int32_t)in_zero_point;
                continue;
              }
              const uint8_t* px = image + ((size_t)iy * g->in_w + (size_t)ix) * C;
              if (multiplier == 1) {
                for (size_t i = 0; i < count; i++) acc[i] += w[i] * (int32_t)px[oc0 + i];
              } else {
                for (size_t i = 0; i < count; i++)
                  acc[i] += w[i] * (int32_t)px[(oc0 + i) / multiplier];
              }
            }
          }
          for (size_t i = 0; i < count; i++)
            out[oc0 + i] = sk_requant_one(acc[i], bias[oc0 + i], scale[oc0 + i], lo, hi, zp);
        }
      }
    }
  }
}

static void sk_qdwconv_plain(const sk_conv_geom* g, size_t multiplier, const uint8_t* input,
                             uint8_t in_zero_point, const int8_t* weights, const sk_requant* ep,
                             uint8_t* output) {
  sk_qdwconv_body(g, multiplier, input, in_zero_point, weights, ep, output);
}

#if defined(__x86_64__)
/// The depthwise loops compiled for AVX2 (8 channels per vector instead of SSE2's 4).
__attribute__((target("avx2"))) static void sk_qdwconv_avx2(
    const sk_conv_geom* g, size_t multiplier, const uint8_t* input, uint8_t in_zero_point,
    const int8_t* weights, const sk_requant* ep, uint8_t* output) {
  sk_qdwconv_body(g, multiplier, input, in_zero_point, weights, ep, output);
}

/// The depthwise loops compiled for AVX-512 (16 channels per vector).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static void sk_qdwconv_avx512(
    const sk_conv_geom* g, size_t multiplier, const uint8_t* input, uint8_t in_zero_point,
    const int8_t* weights, const sk_requant* ep, uint8_t* output) {
  sk_qdwconv_body(g, multiplier, input, in_zero_point, weights, ep, output);
}
#endif

void sk_qdwconv2d_requant(const sk_conv_geom* g, size_t multiplier, const uint8_t* input,
                          uint8_t in_zero_point, const int8_t* weights, const sk_requant* ep,
                          uint8_t* output) {
#if defined(__x86_64__)
  if (sk_isa_available(SK_ISA_AVX512VNNI)) {
    sk_qdwconv_avx512(g, multiplier, input, in_zero_point, weights, ep, output);
    return;
  }
  if (sk_isa_available(SK_ISA_AVX2)) {
    sk_qdwconv_avx2(g, multiplier, input, in_zero_point, weights, ep, output);
    return;
  }
#endif
  sk_qdwconv_plain(g, multiplier, input, in_zero_point, weights, ep, output);
}
