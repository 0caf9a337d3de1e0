// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, zlib's crc32): slice-by-8 tables
// everywhere, and carry-less multiplication folding on x86-64 CPUs with PCLMULQDQ.
#include "ckernels.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

// MARK: - Tables

/// crc_tables[0] is the classic byte table; crc_tables[k][b] is the CRC register after byte b
/// followed by k zero bytes, so eight bytes fold into the register with eight lookups.
static uint32_t crc_tables[8][256];
static pthread_once_t crc_tables_once = PTHREAD_ONCE_INIT;

static void crc_make_tables(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_tables[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int k = 1; k < 8; k++) {
      uint32_t prev = crc_tables[k - 1][n];
      crc_tables[k][n] = (prev >> 8) ^ crc_tables[0][prev & 0xFF];
    }
  }
}

static inline uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

/// Advances the raw register (already inverted) over n bytes.
static uint32_t crc_register_tables(uint32_t reg, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint32_t a = reg ^ load_le32(p), b = load_le32(p + 4);
    reg = crc_tables[7][a & 0xFF] ^ crc_tables[6][(a >> 8) & 0xFF] ^ crc_tables[5][(a >> 16) & 0xFF] ^
          crc_tables[4][a >> 24] ^ crc_tables[3][b & 0xFF] ^ crc_tables[2][(b >> 8) & 0xFF] ^
          crc_tables[1][(b >> 16) & 0xFF] ^ crc_tables[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) reg = crc_tables[0][(reg ^ *p++) & 0xFF] ^ (reg >> 8);
  return reg;
}

uint32_t sk_crc32_portable(uint32_t crc, const void* data, size_t n) {
  pthread_once(&crc_tables_once, crc_make_tables);
  return ~crc_register_tables(~crc, (const uint8_t*)data, n);
}

// MARK: - Carry-less multiplication folding (x86-64)

#if defined(__x86_64__)
// A 16-byte block read little-endian is a polynomial whose lowest bit is its highest power
// (bit i stands for x^(127-i)). Its low half l and high half h give A = l·x^64 + h, so moving
// A forward by D bits is A·x^D ≡ l·(x^(64+D) mod P) + h·(x^D mod P). PCLMULQDQ of two such
// reflected halves yields their product times x, hence the constants below are
// x^(63+D) mod P and x^(D-1) mod P, bit-reflected into the top 32 bits of a 64-bit lane
// (low lane: the multiplier of l, high lane: of h). D = 512 folds each of four lanes over the
// next 64 bytes; D = 128 folds one block into the next. The folded 16 bytes are congruent to
// everything before them modulo P, so the tables finish on them from a zero register.
#define SK_CLMUL __attribute__((target("pclmul,sse2")))

static const uint64_t fold_512[2] = {0x653d982200000000ull, 0xcad38e8f00000000ull};
static const uint64_t fold_128[2] = {0x65673b4600000000ull, 0x9ba54c6f00000000ull};

static inline SK_CLMUL __m128i crc_fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/// Needs n >= 64; returns the raw register after the whole input.
static SK_CLMUL uint32_t crc_register_clmul(uint32_t reg, const uint8_t* p, size_t n) {
  const __m128i k512 = _mm_loadu_si128((const __m128i*)fold_512);
  const __m128i k128 = _mm_loadu_si128((const __m128i*)fold_128);
  // The register enters as a XOR on the first four message bytes.
  __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i*)p), _mm_cvtsi32_si128((int)reg));
  __m128i x1 = _mm_loadu_si128((const __m128i*)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i*)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i*)(p + 48));
  p += 64;
  n -= 64;
  while (n >= 64) {
    x0 = crc_fold(x0, k512, _mm_loadu_si128((const __m128i*)p));
    x1 = crc_fold(x1, k512, _mm_loadu_si128((const __m128i*)(p + 16)));
    x2 = crc_fold(x2, k512, _mm_loadu_si128((const __m128i*)(p + 32)));
    x3 = crc_fold(x3, k512, _mm_loadu_si128((const __m128i*)(p + 48)));
    p += 64;
    n -= 64;
  }
  __m128i x = crc_fold(x0, k128, x1);
  x = crc_fold(x, k128, x2);
  x = crc_fold(x, k128, x3);
  while (n >= 16) {
    x = crc_fold(x, k128, _mm_loadu_si128((const __m128i*)p));
    p += 16;
    n -= 16;
  }
  uint8_t folded[16];
  _mm_storeu_si128((__m128i*)folded, x);
  return crc_register_tables(crc_register_tables(0, folded, 16), p, n);
}

static int crc_has_clmul(void) {
  static int cached = -1;  // every racing thread computes the same value
  int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (v < 0) {
    unsigned a, b, c, d;
    v = __get_cpuid(1, &a, &b, &c, &d) && ((c >> 1) & 1);
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
  }
  return v;
}
#endif

uint32_t sk_crc32(uint32_t crc, const void* data, size_t n) {
  pthread_once(&crc_tables_once, crc_make_tables);
#if defined(__x86_64__)
  if (n >= 64 && crc_has_clmul()) return ~crc_register_clmul(~crc, (const uint8_t*)data, n);
#endif
  return ~crc_register_tables(~crc, (const uint8_t*)data, n);
}

int sk_crc32_accelerated(void) {
#if defined(__x86_64__)
  return crc_has_clmul();
#else
  return 0;
#endif
}
