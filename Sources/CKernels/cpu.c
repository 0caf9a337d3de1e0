// Run-time CPU feature detection for the int8 backends.
#include "ckernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

/// XCR0: which register states the OS saves on a context switch.
static uint64_t sk_xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/// Bit mask of available sk_isa values, computed once.
static int sk_detect(void) {
  int mask = 1 << SK_ISA_REFERENCE;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return mask;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  // xgetbv faults unless the OS has enabled XSAVE (OSXSAVE), so it is checked first.
  if (!osxsave || !avx) return mask;
  uint64_t xcr0 = sk_xgetbv0();
  int ymm_state = (xcr0 & 0x6) == 0x6;            // SSE + AVX (YMM upper halves)
  int zmm_state = (xcr0 & 0xE6) == 0xE6;          // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, NULL) < 7) return mask;
  __cpuid_count(7, 0, a, b, c, d);
  int avx2 = (b >> 5) & 1;
  int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
  int vnni = (c >> 11) & 1;
  if (ymm_state && avx2 && fma) mask |= 1 << SK_ISA_AVX2;
  if (ymm_state && zmm_state && avx512f && avx512bw && avx512vl && vnni)
    mask |= 1 << SK_ISA_AVX512VNNI;
  return mask;
}
#else
static int sk_detect(void) { return 1 << SK_ISA_REFERENCE; }
#endif

int sk_isa_available(sk_isa isa) {
  // Every thread that races here computes the same value.
  static int cached = 0;
  int mask = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (mask == 0) {
    mask = sk_detect();
    __atomic_store_n(&cached, mask, __ATOMIC_RELAXED);
  }
  return (unsigned)isa < SK_ISA_COUNT && ((mask >> isa) & 1);
}

sk_isa sk_isa_best(void) {
  if (sk_isa_available(SK_ISA_AVX512VNNI)) return SK_ISA_AVX512VNNI;
  if (sk_isa_available(SK_ISA_AVX2)) return SK_ISA_AVX2;
  return SK_ISA_REFERENCE;
}

const char* sk_isa_name(sk_isa isa) {
  switch (isa) {
  case SK_ISA_REFERENCE: return "reference";
  case SK_ISA_AVX2: return "avx2";
  case SK_ISA_AVX512VNNI: return "avx512vnni";
  default: return "unknown";
  }
}
