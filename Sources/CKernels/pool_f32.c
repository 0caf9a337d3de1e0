// Float32 max and average pooling, forward and backward, NHWC. Padding never contributes a
// value: max pooling skips it, average pooling counts it only when count_include_pad.
#include "ckernels.h"

#include <string.h>

#include "geometry_internal.h"

void sk_maxpool_f32(const sk_conv_geom* g, const float* input, float* output, int32_t* argmax) {
  const size_t C = g->in_c;
  for (size_t n = 0; n < g->batch; n++) {
    for (size_t oh = 0; oh < g->out_h; oh++) {
      sk_tap_range rh =
          sk_pool_taps(oh, g->stride_h, g->pad_top, g->kernel_h, g->dilation_h, g->in_h);
      for (size_t ow = 0; ow < g->out_w; ow++) {
        sk_tap_range rw =
            sk_pool_taps(ow, g->stride_w, g->pad_left, g->kernel_w, g->dilation_w, g->in_w);
        size_t o = ((n * g->out_h + oh) * g->out_w + ow) * C;
        float* out = output + o;
        int32_t* arg = argmax ? argmax + o : NULL;
        if (rh.begin == rh.end || rw.begin == rw.end) {
          memset(out, 0, C * sizeof(float));
          if (arg)
            for (size_t c = 0; c < C; c++) arg[c] = -1;
          continue;
        }
        int first = 1;
        for (size_t kh = rh.begin; kh < rh.end; kh++) {
          size_t ih = (size_t)sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
          for (size_t kw = rw.begin; kw < rw.end; kw++) {
            size_t iw = (size_t)sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
            size_t at = ((n * g->in_h + ih) * g->in_w + iw) * C;
            const float* in = input + at;
            if (first) {
              memcpy(out, in, C * sizeof(float));
              if (arg)
                for (size_t c = 0; c < C; c++) arg[c] = (int32_t)(at + c);
              first = 0;
              continue;
            }
            // The first NaN in the window wins, so NaN propagates like in other frameworks.
            if (arg) {
              for (size_t c = 0; c < C; c++) {
                float v = in[c], m = out[c];
                int take = v > m || (v != v && m == m);
                out[c] = take ? v : m;
                arg[c] = take ? (int32_t)(at + c) : arg[c];
              }
            } else {
              for (size_t c = 0; c < C; c++) {
                float v = in[c], m = out[c];
                out[c] = v > m || (v != v && m == m) ? v : m;
              }
            }
          }
        }
      }
    }
  }
}

void sk_maxpool_backward_f32(size_t n_out, const int32_t* argmax, const float* out_grad,
                             float* input_grad) {
  for (size_t i = 0; i < n_out; i++)
    if (argmax[i] >= 0) input_grad[argmax[i]] += out_grad[i];
}

/// The divisor of one average window (0 when the window has no valid position).
static inline size_t avg_count(const sk_conv_geom* g, int count_include_pad, sk_tap_range rh,
                               sk_tap_range rw) {
  if (rh.begin == rh.end || rw.begin == rw.end) return 0;
  if (count_include_pad) return g->kernel_h * g->kernel_w;
  return (rh.end - rh.begin) * (rw.end - rw.begin);
}

void sk_avgpool_f32(const sk_conv_geom* g, int count_include_pad, const float* input,
                    float* output) {
  const size_t C = g->in_c;
  for (size_t n = 0; n < g->batch; n++) {
    for (size_t oh = 0; oh < g->out_h; oh++) {
      sk_tap_range rh =
          sk_pool_taps(oh, g->stride_h, g->pad_top, g->kernel_h, g->dilation_h, g->in_h);
      for (size_t ow = 0; ow < g->out_w; ow++) {
        sk_tap_range rw =
            sk_pool_taps(ow, g->stride_w, g->pad_left, g->kernel_w, g->dilation_w, g->in_w);
        float* out = output + ((n * g->out_h + oh) * g->out_w + ow) * C;
        memset(out, 0, C * sizeof(float));
        size_t count = avg_count(g, count_include_pad, rh, rw);
        if (count == 0) continue;
        for (size_t kh = rh.begin; kh < rh.end; kh++) {
          size_t ih = (size_t)sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
          for (size_t kw = rw.begin; kw < rw.end; kw++) {
            size_t iw = (size_t)sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
            const float* in = input + ((n * g->in_h + ih) * g->in_w + iw) * C;
            for (size_t c = 0; c < C; c++) out[c] += in[c];
          }
        }
        float div = (float)count;
        for (size_t c = 0; c < C; c++) out[c] /= div;
      }
    }
  }
}

void sk_avgpool_backward_f32(const sk_conv_geom* g, int count_include_pad, const float* out_grad,
                             float* input_grad) {
  const size_t C = g->in_c;
  for (size_t n = 0; n < g->batch; n++) {
    for (size_t oh = 0; oh < g->out_h; oh++) {
      sk_tap_range rh =
          sk_pool_taps(oh, g->stride_h, g->pad_top, g->kernel_h, g->dilation_h, g->in_h);
      for (size_t ow = 0; ow < g->out_w; ow++) {
        sk_tap_range rw =
            sk_pool_taps(ow, g->stride_w, g->pad_left, g->kernel_w, g->dilation_w, g->in_w);
        size_t count = avg_count(g, count_include_pad, rh, rw);
        if (count == 0) continue;
        const float* go = out_grad + ((n * g->out_h + oh) * g->out_w + ow) * C;
        float div = (float)count;
        for (size_t kh = rh.begin; kh < rh.end; kh++) {
          size_t ih = (size_t)sk_tap(oh, g->stride_h, g->pad_top, kh, g->dilation_h, g->in_h);
          for (size_t kw = rw.begin; kw < rw.end; kw++) {
            size_t iw = (size_t)sk_tap(ow, g->stride_w, g->pad_left, kw, g->dilation_w, g->in_w);
            float* ig = input_grad + ((n * g->in_h + ih) * g->in_w + iw) * C;
            for (size_t c = 0; c < C; c++) ig[c] += go[c] / div;
          }
        }
      }
    }
  }
}
