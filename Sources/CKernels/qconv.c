// Int8 convolution: im2col into an L2-sized block, then the GEMM kernels; and depthwise.
#include <string.h>

#include "qgemm_internal.h"

enum {
  IM2COL_BLOCK_BYTES = 256 << 10,  // one block of im2col rows, meant to stay in L2
  ROW_MULTIPLE = 12,               // whole register tiles for every backend (6 and 4 rows)
  DW_CHANNELS = 256,               // depthwise accumulators kept on the stack
};

/// Copies n bytes. Kernel rows of first layers are a few bytes long, where a call to memcpy
/// costs more than the copy: short runs use overlapping fixed-size moves instead.
static inline void sk_copy_run(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n >= 64) {
    memcpy(dst, src, n);
  } else if (n >= 16) {
    for (size_t i = 0; i + 16 < n; i += 16) memcpy(dst + i, src + i, 16);
    memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    memcpy(dst, src, 8);
    memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    memcpy(dst, src, 4);
    memcpy(dst + n - 4, src + n - 4, 4);
  } else {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
  }
}

/// Fills n bytes with v (short runs inline, as sk_copy_run).
static inline void sk_fill_run(uint8_t* dst, uint8_t v, size_t n) {
  if (n >= 64) {
    memset(dst, v, n);
  } else {
    for (size_t i = 0; i < n; i++) dst[i] = v;
  }
}

/// One kernel row (ky fixed, input row `row`) of one im2col row, for any column: padding taps
/// hold pad_value.
static void sk_im2col_taps(uint8_t* dst, const uint8_t* row, ptrdiff_t left, size_t kw, size_t dw,
                           size_t in_w, size_t in_c, size_t c_count, uint8_t pad_value) {
  for (size_t kx = 0; kx < kw; kx++, dst += c_count) {
    ptrdiff_t ix = left + (ptrdiff_t)(kx * dw);
    if (ix < 0 || ix >= (ptrdiff_t)in_w)
      sk_fill_run(dst, pad_value, c_count);
    else
      sk_copy_run(dst, row + (size_t)ix * in_c, c_count);
  }
}

void sk_im2col_u8(const sk_conv_geom* g, size_t c_begin, size_t c_count, const uint8_t* input,
                  size_t p_begin, size_t p_end, uint8_t pad_value, uint8_t* out, size_t ldr) {
  // Locals: the byte stores below may alias anything, which would force reloads of *g.
  const size_t in_h = g->in_h, in_w = g->in_w, in_c = g->in_c, out_h = g->out_h, out_w = g->out_w;
  const size_t kh = g->kernel_h, kw = g->kernel_w, sh = g->stride_h, sw = g->stride_w;
  const size_t dh = g->dilation_h ? g->dilation_h : 1, dw = g->dilation_w ? g->dilation_w : 1;
  const size_t pad_top = g->pad_top, pad_left = g->pad_left;
  const size_t run = kw * c_count, row_stride = in_w * in_c, image_size = in_h * row_stride;
  const size_t plane = out_h * out_w;
  // Interior columns [ox_lo, ox_hi): every tap of a kernel row lands inside the input.
  size_t ox_lo = (pad_left + sw - 1) / sw;
  ptrdiff_t last = (ptrdiff_t)in_w - 1 - (ptrdiff_t)((kw - 1) * dw) + (ptrdiff_t)pad_left;
  size_t ox_hi = last < 0 ? 0 : sk_min_size(out_w, (size_t)last / sw + 1);
  if (ox_lo > ox_hi) ox_lo = ox_hi;
  // With all channels and no dilation an interior kernel row is one run of bytes. A short run
  // is moved as 8 bytes when both sides have room within the im2col row: the extra bytes land
  // in the next kernel row's place (written after it: ky is the outer loop) or past K
  // (multiplied by zero weights), never in the next im2col row (already written).
  const int contiguous = c_count == in_c && dw == 1;
  const uint8_t* input_end = input + g->batch * image_size;
  const uint8_t* out_end = out + (p_end - p_begin - 1) * ldr + sk_min_size(ldr, kh * run);
  for (size_t p = p_begin; p < p_end;) {
    size_t b = p / plane, oy = p % plane / out_w, ox0 = p % out_w;
    size_t ox1 = sk_min_size(out_w, ox0 + (p_end - p));
    uint8_t* base = out + (p - p_begin) * ldr;
    const uint8_t* image = input + b * image_size + c_begin;
    size_t lo = ox0 > ox_lo ? ox0 : ox_lo, hi = ox1 < ox_hi ? ox1 : ox_hi;
    if (lo > hi) lo = hi;
    for (size_t ky = 0; ky < kh; ky++) {
      uint8_t* seg = base + ky * run;
      ptrdiff_t iy = (ptrdiff_t)(oy * sh + ky * dh) - (ptrdiff_t)pad_top;
      if (iy < 0 || iy >= (ptrdiff_t)in_h) {
        for (size_t ox = ox0; ox < ox1; ox++) sk_fill_run(seg + (ox - ox0) * ldr, pad_value, run);
        continue;
      }
      const uint8_t* row = image + (size_t)iy * row_stride;
      for (size_t ox = ox0; ox < lo; ox++)
        sk_im2col_taps(seg + (ox - ox0) * ldr, row, (ptrdiff_t)(ox * sw) - (ptrdiff_t)pad_left, kw, dw,
                       in_w, in_c, c_count, pad_value);
      if (contiguous) {
        const uint8_t* src = row + (lo * sw - pad_left) * in_c;
        uint8_t* dst = seg + (lo - ox0) * ldr;
        const int wide = run < 8 && ky * run + 8 <= ldr;
        for (size_t ox = lo; ox < hi; ox++, src += sw * in_c, dst += ldr) {
          if (wide && src + 8 <= input_end && dst + 8 <= out_end)
            memcpy(dst, src, 8);
          else
            sk_copy_run(dst, src, run);
        }
      } else {
        for (size_t ox = lo; ox < hi; ox++)
          sk_im2col_taps(seg + (ox - ox0) * ldr, row, (ptrdiff_t)(ox * sw) - (ptrdiff_t)pad_left, kw, dw,
                         in_w, in_c, c_count, pad_value);
      }
      for (size_t ox = hi; ox < ox1; ox++)
        sk_im2col_taps(seg + (ox - ox0) * ldr, row, (ptrdiff_t)(ox * sw) - (ptrdiff_t)pad_left, kw, dw,
                       in_w, in_c, c_count, pad_value);
    }
    p += ox1 - ox0;
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
