// Float32 convolution helpers for training: im2col / col2im (its adjoint) for the GEMM
// path, and depthwise convolution forward and backward. NHWC throughout.
#include "ckernels.h"

#include <string.h>

#include "geometry_internal.h"

void sk_im2col_f32(const sk_conv_geom* g, size_t c_begin, size_t c_count, const float* input,
                   size_t p_begin, size_t p_end, float* out, size_t ldr) {
  const size_t plane = g->out_h * g->out_w;
  for (size_t p = p_begin; p < p_end; p++) {
    size_t n = p / plane, oh = p % plane / g->out_w, ow = p % g->out_w;
    float* row = out + (p - p_begin) * ldr;
    const float* image = input + n * g->in_h * g->in_w * g->in_c + c_begin;
    for (size_t kh = 0; kh < g->kernel_h; kh++) {
      float* dst = row + kh * g->kernel_w * c_count;
      ptrdiff_t ih = sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
      if (ih < 0) {
        memset(dst, 0, g->kernel_w * c_count * sizeof(float));
        continue;
      }
      for (size_t kw = 0; kw < g->kernel_w; kw++, dst += c_count) {
        ptrdiff_t iw = sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
        if (iw < 0)
          memset(dst, 0, c_count * sizeof(float));
        else
          memcpy(dst, image + ((size_t)ih * g->in_w + (size_t)iw) * g->in_c,
                 c_count * sizeof(float));
      }
    }
  }
}

void sk_col2im_f32(const sk_conv_geom* g, size_t c_begin, size_t c_count, const float* cols,
                   size_t p_begin, size_t p_end, size_t ldr, float* input_grad) {
  const size_t plane = g->out_h * g->out_w;
  for (size_t p = p_begin; p < p_end; p++) {
    size_t n = p / plane, oh = p % plane / g->out_w, ow = p % g->out_w;
    const float* row = cols + (p - p_begin) * ldr;
    float* image = input_grad + n * g->in_h * g->in_w * g->in_c + c_begin;
    for (size_t kh = 0; kh < g->kernel_h; kh++) {
      ptrdiff_t ih = sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
      if (ih < 0) continue;
      const float* src = row + kh * g->kernel_w * c_count;
      for (size_t kw = 0; kw < g->kernel_w; kw++, src += c_count) {
        ptrdiff_t iw = sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
        if (iw < 0) continue;
        float* dst = image + ((size_t)ih * g->in_w + (size_t)iw) * g->in_c;
        for (size_t c = 0; c < c_count; c++) dst[c] += src[c];
      }
    }
  }
}

// MARK: - Depthwise

void sk_dwconv2d_f32(const sk_conv_geom* g, size_t multiplier, const float* input,
                     const float* weights, const float* bias, float* output) {
  const size_t in_c = g->in_c, out_c = in_c * multiplier;
  for (size_t n = 0; n < g->batch; n++) {
    const float* image = input + n * g->in_h * g->in_w * in_c;
    for (size_t oh = 0; oh < g->out_h; oh++) {
      for (size_t ow = 0; ow < g->out_w; ow++) {
        float* out = output + ((n * g->out_h + oh) * g->out_w + ow) * out_c;
        if (bias)
          memcpy(out, bias, out_c * sizeof(float));
        else
          memset(out, 0, out_c * sizeof(float));
        for (size_t kh = 0; kh < g->kernel_h; kh++) {
          ptrdiff_t ih = sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
          if (ih < 0) continue;
          for (size_t kw = 0; kw < g->kernel_w; kw++) {
            ptrdiff_t iw = sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
            if (iw < 0) continue;
            const float* in = image + ((size_t)ih * g->in_w + (size_t)iw) * in_c;
            const float* w = weights + (kh * g->kernel_w + kw) * out_c;
            if (multiplier == 1) {
              for (size_t c = 0; c < out_c; c++) out[c] += in[c] * w[c];
            } else {
              for (size_t c = 0; c < out_c; c++) out[c] += in[c / multiplier] * w[c];
            }
          }
        }
      }
    }
  }
}

void sk_dwconv2d_backward_f32(const sk_conv_geom* g, size_t multiplier, const float* input,
                              const float* weights, const float* out_grad, float* input_grad,
                              float* weight_grad, float* bias_grad) {
  const size_t in_c = g->in_c, out_c = in_c * multiplier;
  for (size_t n = 0; n < g->batch; n++) {
    size_t image_offset = n * g->in_h * g->in_w * in_c;
    for (size_t oh = 0; oh < g->out_h; oh++) {
      for (size_t ow = 0; ow < g->out_w; ow++) {
        const float* go = out_grad + ((n * g->out_h + oh) * g->out_w + ow) * out_c;
        if (bias_grad)
          for (size_t c = 0; c < out_c; c++) bias_grad[c] += go[c];
        for (size_t kh = 0; kh < g->kernel_h; kh++) {
          ptrdiff_t ih = sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
          if (ih < 0) continue;
          for (size_t kw = 0; kw < g->kernel_w; kw++) {
            ptrdiff_t iw = sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
            if (iw < 0) continue;
            size_t at = image_offset + ((size_t)ih * g->in_w + (size_t)iw) * in_c;
            const float* in = input + at;
            size_t tap_offset = (kh * g->kernel_w + kw) * out_c;
            const float* w = weights + tap_offset;
            if (multiplier == 1) {
              if (weight_grad) {
                float* wg = weight_grad + tap_offset;
                for (size_t c = 0; c < out_c; c++) wg[c] += go[c] * in[c];
              }
              if (input_grad) {
                float* ig = input_grad + at;
                for (size_t c = 0; c < out_c; c++) ig[c] += go[c] * w[c];
              }
            } else {
              if (weight_grad) {
                float* wg = weight_grad + tap_offset;
                for (size_t c = 0; c < out_c; c++) wg[c] += go[c] * in[c / multiplier];
              }
              if (input_grad) {
                float* ig = input_grad + at;
                for (size_t c = 0; c < out_c; c++) ig[c / multiplier] += go[c] * w[c];
              }
            }
          }
        }
      }
    }
  }
}
