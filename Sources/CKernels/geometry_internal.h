// Private to CKernels: convolution / pooling window geometry shared by the float32 and the
// int8 kernels. Not part of the public API.
#ifndef STARLING_GEOMETRY_INTERNAL_H
#define STARLING_GEOMETRY_INTERNAL_H

#include <stddef.h>

/// Input coordinate of kernel tap k for output coordinate o, or -1 inside the padding.
/// A dilation of 0 counts as 1.
static inline ptrdiff_t sk_tap(size_t o, size_t stride, size_t pad, size_t k, size_t dilation,
                               size_t extent) {
  ptrdiff_t i = (ptrdiff_t)(o * stride + k * (dilation ? dilation : 1)) - (ptrdiff_t)pad;
  return i >= 0 && i < (ptrdiff_t)extent ? i : -1;
}

/// The taps [begin, end) of a window along one axis that land inside the input. They are
/// contiguous (the input coordinate grows with the tap); begin == end when the window lies
/// entirely in the padding.
typedef struct {
  size_t begin, end;
} sk_tap_range;

static inline sk_tap_range sk_pool_taps(size_t o, size_t stride, size_t pad, size_t kernel,
                                        size_t dilation, size_t extent) {
  sk_tap_range r;
  size_t k = 0;
  while (k < kernel && sk_tap(o, stride, pad, k, dilation, extent) < 0) k++;
  r.begin = k;
  while (k < kernel && sk_tap(o, stride, pad, k, dilation, extent) >= 0) k++;
  r.end = k;
  return r;
}

#endif
