// Int8 elementwise ops and pooling. Plain C written so that clang vectorizes it on every target:
// rounding uses sk_rhe_small after clamping in float, NaN handling is a select.
#include <string.h>

#include "qgemm_internal.h"

enum { POOL_CHANNELS = 256 };  // average-pool sums kept on the stack

void sk_quantize_u8(size_t n, const float* x, float scale, int32_t zp, uint8_t* q) {
  // Clamping before rounding is exact (the bounds are integers) and keeps |v| small.
  float lo = (float)(0 - zp), hi = (float)(255 - zp);
  for (size_t i = 0; i < n; i++) {
    float v = x[i] / scale;
    v = v != v ? 0.0f : v;
    v = sk_fmin_x86(sk_fmax_x86(v, lo), hi);
    q[i] = (uint8_t)((int32_t)sk_rhe_small(v) + zp);
  }
}

void sk_dequantize_u8(size_t n, const uint8_t* q, float scale, int32_t zp, float* x) {
  for (size_t i = 0; i < n; i++) x[i] = (float)((int32_t)q[i] - zp) * scale;
}

void sk_qadd_u8(size_t n, const uint8_t* a, int32_t za, float ka, const uint8_t* b, int32_t zb,
                float kb, int32_t zo, int32_t out_min, int32_t out_max, uint8_t* out) {
  float lo = (float)(out_min - zo), hi = (float)(out_max - zo);
  for (size_t i = 0; i < n; i++) {
    float v = (float)((int32_t)a[i] - za) * ka + (float)((int32_t)b[i] - zb) * kb;
    v = sk_fmin_x86(sk_fmax_x86(v, lo), hi);
    out[i] = (uint8_t)((int32_t)sk_rhe_small(v) + zo);
  }
}

/// Address of input pixel (b, tap ky, tap kx) for output (oy, ox); taps must be valid.
static const uint8_t* sk_pool_pixel(const sk_conv_geom* g, const uint8_t* input, size_t b,
                                    size_t oy, size_t ox, size_t ky, size_t kx) {
  size_t iy = (size_t)sk_tap(oy, g->stride_h, g->pad_top, ky, g->dilation_h, g->in_h);
  size_t ix = (size_t)sk_tap(ox, g->stride_w, g->pad_left, kx, g->dilation_w, g->in_w);
  return input + ((b * g->in_h + iy) * g->in_w + ix) * g->in_c;
}

void sk_qmaxpool_u8(const sk_conv_geom* g, const uint8_t* input, uint8_t zero_point,
                    uint8_t* output) {
  // Locals and a stack accumulator: stores through uint8_t pointers may alias anything.
  const size_t C = g->in_c, in_h = g->in_h, in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
  const size_t dh = g->dilation_h ? g->dilation_h : 1, dw = g->dilation_w ? g->dilation_w : 1;
  uint8_t acc[POOL_CHANNELS];
  for (size_t b = 0; b < g->batch; b++) {
    for (size_t oy = 0; oy < out_h; oy++) {
      sk_tap_range ry = sk_pool_taps(oy, g->stride_h, g->pad_top, g->kernel_h, dh, in_h);
      for (size_t ox = 0; ox < out_w; ox++) {
        sk_tap_range rx = sk_pool_taps(ox, g->stride_w, g->pad_left, g->kernel_w, dw, in_w);
        uint8_t* out = output + ((b * out_h + oy) * out_w + ox) * C;
        if (ry.begin == ry.end || rx.begin == rx.end) {
          memset(out, zero_point, C);
          continue;
        }
        size_t y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
        for (size_t c0 = 0; c0 < C; c0 += POOL_CHANNELS) {
          size_t n = C - c0 < POOL_CHANNELS ? C - c0 : POOL_CHANNELS;
          // 0 is the smallest uint8, so it starts the max of a window with valid taps.
          for (size_t i = 0; i < n; i++) acc[i] = 0;
          for (size_t ky = ry.begin; ky < ry.end; ky++) {
            for (size_t kx = rx.begin; kx < rx.end; kx++) {
              const uint8_t* in = input + ((b * in_h + y0 + ky * dh) * in_w + x0 + kx * dw) * C + c0;
              for (size_t i = 0; i < n; i++) acc[i] = in[i] > acc[i] ? in[i] : acc[i];
            }
          }
          memcpy(out + c0, acc, n);
        }
      }
    }
  }
}

void sk_qavgpool_u8(const sk_conv_geom* g, int count_include_pad, const uint8_t* input,
                    int32_t zin, float k, int32_t zout, uint8_t* output) {
  size_t C = g->in_c;
  float lo = (float)(0 - zout), hi = (float)(255 - zout);
  int32_t sum[POOL_CHANNELS];
  for (size_t b = 0; b < g->batch; b++) {
    for (size_t oy = 0; oy < g->out_h; oy++) {
      sk_tap_range ry =
          sk_pool_taps(oy, g->stride_h, g->pad_top, g->kernel_h, g->dilation_h, g->in_h);
      for (size_t ox = 0; ox < g->out_w; ox++) {
        sk_tap_range rx =
            sk_pool_taps(ox, g->stride_w, g->pad_left, g->kernel_w, g->dilation_w, g->in_w);
        size_t valid = (ry.end - ry.begin) * (rx.end - rx.begin);
        size_t count = count_include_pad ? g->kernel_h * g->kernel_w : valid;
        // A window with no valid tap averages nothing: it gives the zero point.
        float div = (float)(valid ? count : 1);
        uint8_t* out = output + ((b * g->out_h + oy) * g->out_w + ox) * C;
        for (size_t c0 = 0; c0 < C; c0 += POOL_CHANNELS) {
          size_t n = sk_min_size(POOL_CHANNELS, C - c0);
          for (size_t c = 0; c < n; c++) sum[c] = 0;
          for (size_t ky = ry.begin; ky < ry.end; ky++) {
            for (size_t kx = rx.begin; kx < rx.end; kx++) {
              const uint8_t* in = sk_pool_pixel(g, input, b, oy, ox, ky, kx) + c0;
              for (size_t c = 0; c < n; c++) sum[c] += (int32_t)in[c] - zin;
            }
          }
          for (size_t c = 0; c < n; c++) {
            float v = (float)sum[c] / div * k;
            v = sk_fmin_x86(sk_fmax_x86(v, lo), hi);
            out[c0 + c] = (uint8_t)((int32_t)sk_rhe_small(v) + zout);
          }
        }
      }
    }
  }
}
