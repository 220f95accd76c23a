/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * Protobuf: only the accepted subset is read; anything else is FALLBACK.
 */
#pragma once

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Rd;

/* A varint of at most 10 bytes with no bits beyond 64; 0 on anything else. */
static inline int rd_varint(Rd *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (r->p >= r->end) return 0;
    uint8_t b = *r->p++;
    if (shift == 63 && b > 1) return 0;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (b < 0x80) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

/* A tag of 1 or 2 bytes (field numbers below 2048), field number not 0. */
static inline int rd_tag(Rd *r, uint32_t *tag) {
  if (r->p >= r->end) return 0;
  uint8_t b = *r->p++;
  if (b < 0x80) {
    *tag = b;
  } else {
    if (r->p >= r->end) return 0;
    uint8_t b2 = *r->p++;
    if (b2 >= 0x80) return 0;
    *tag = (b & 0x7fu) | ((uint32_t)b2 << 7);
  }
  return (*tag >> 3) != 0;
}

/* Reads a LEN prefix; the payload must fit in the current message. */
static inline int rd_len(Rd *r, size_t *n) {
  uint64_t v;
  if (!rd_varint(r, &v) || v > (uint64_t)(r->end - r->p)) return 0;
  *n = (size_t)v;
  return 1;
}

static int rd_skip(Rd *r, uint32_t tag) {
  uint64_t v;
  size_t n;
  switch (tag & 7) {
    case 0: return rd_varint(r, &v);
    case 1: if (r->end - r->p < 8) return 0; r->p += 8; return 1;
    case 2: if (!rd_len(r, &n)) return 0; r->p += n; return 1;
    case 5: if (r->end - r->p < 4) return 0; r->p += 4; return 1;
    default: return 0;
  }
}

/* Bytes of a varint. */
static inline size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static inline uint8_t *put_varint(uint8_t *o, uint64_t v) {
  while (v >= 0x80) {
    *o++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *o++ = (uint8_t)v;
  return o;
}
