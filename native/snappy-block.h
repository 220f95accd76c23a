/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 *
 * WAL block compression: snappy blocks, matched at token boundaries.
 *
 * `compress_block` writes a standard snappy block (format_description.txt in google/snappy: a
 * varint length, then literals and copies with 1- and 2-byte offsets) that any snappy or S2
 * decoder reads, adx-mon's included. What differs from Google's encoder is where it looks for
 * matches: only at positions right after a byte that is not a letter or digit. WAL blocks are
 * CSV rows of label text, whose repeats (label names, values, timestamps, `"",""`) start after
 * punctuation, so this finds the same matches — on loadgen's blocks the output is the same size as
 * libsnappy's to the byte (ratio 3.118) — with a fraction of the hash lookups (in a long run of
 * letters and digits it also looks every 16 bytes): 2.0 GB/s
 * against 1.2 GB/s for libsnappy and ~1.05 GB/s for the `snappy` package on one core of the
 * development VM (perf/micro/wal-flush.bench.ts). Otherwise it works as Google's does: 64 KiB
 * fragments, each with a fresh hash table of 16-bit positions; a 6-byte hash; matches grown
 * backwards into the pending literal and forwards 8 bytes at a time; and the same skipping
 * after repeated misses, so incompressible bytes pass at several GB/s.
 */
#pragma once

#define LZ_FRAGMENT 65536
#define LZ_TABLE_BITS 14
/* Inside a long run of letters and digits a candidate is looked up every this many bytes all the
 * same, so that such text (a hash, base64, "aaaa…") still compresses: a match found there grows
 * backwards to where it starts. */
#define LZ_PROBE_EVERY 16

/* Bytes a match may start after: everything but ASCII letters and digits. */
static const uint8_t *lz_boundaries(void) {
  static uint8_t table[256];
  static int ready;
  if (!ready) {
    for (int c = 0; c < 256; c++) table[c] = !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
    ready = 1; /* every thread writes the same bytes: a benign race */
  }
  return table;
}

/* The most `compress_block` can write for `n` bytes (Google's bound). */
static inline size_t lz_max_compressed(size_t n) { return 32 + n + n / 6; }

static uint8_t *lz_literal(uint8_t *o, const uint8_t *s, size_t n) {
  if (n == 0) return o;
  size_t m = n - 1;
  if (m < 60) {
    *o++ = (uint8_t)(m << 2);
  } else if (m < 256) {
    *o++ = 60 << 2;
    *o++ = (uint8_t)m;
  } else if (m < 65536) {
    *o++ = 61 << 2;
    *o++ = (uint8_t)m;
    *o++ = (uint8_t)(m >> 8);
  } else {
    *o++ = 62 << 2; /* literals never cross a 64 KiB fragment: 3 bytes are enough */
    *o++ = (uint8_t)m;
    *o++ = (uint8_t)(m >> 8);
    *o++ = (uint8_t)(m >> 16);
  }
  memcpy(o, s, n);
  return o + n;
}

/* A copy with a 2-byte offset: 1 ≤ len ≤ 64, 1 ≤ off < 65536. */
static inline uint8_t *lz_copy2(uint8_t *o, size_t off, size_t len) {
  o[0] = (uint8_t)(2 | ((len - 1) << 2));
  o[1] = (uint8_t)off;
  o[2] = (uint8_t)(off >> 8);
  return o + 3;
}

/* A copy of len ≥ 4 bytes from `off` back (1 ≤ off < 65536), as snappy splits long ones. */
static uint8_t *lz_copy(uint8_t *o, size_t off, size_t len) {
  while (len >= 68) {
    o = lz_copy2(o, off, 64);
    len -= 64;
  }
  if (len > 64) {
    o = lz_copy2(o, off, 60);
    len -= 60;
  }
  if (len < 12 && off < 2048) {
    o[0] = (uint8_t)(1 | ((len - 4) << 2) | ((off >> 8) << 5));
    o[1] = (uint8_t)off;
    return o + 2;
  }
  return lz_copy2(o, off, len);
}

/* ip + step, or `limit` (which ends the scan) when that is as far or further. */
static inline const uint8_t *lz_advance(const uint8_t *ip, const uint8_t *limit, size_t step) { return (size_t)(limit - ip) > step ? ip + step : limit; }

static inline uint32_t lz_hash(const uint8_t *p, int shift) { return (uint32_t)(((rd64(p) << 16) * 0xcf1bbcdcb7a56463ull) >> 32) >> shift; }

/* in[0, n) as one snappy block into out (room for lz_max_compressed(n)); returns its length. */
static size_t compress_block(const uint8_t *in, size_t n, uint8_t *out) {
  const uint8_t *boundary = lz_boundaries();
  uint16_t table[1u << LZ_TABLE_BITS];
  uint8_t *o = out;
  for (size_t v = n; ; v >>= 7) {
    if (v < 0x80) {
      *o++ = (uint8_t)v;
      break;
    }
    *o++ = (uint8_t)(v | 0x80);
  }
  for (size_t base = 0; base < n; base += LZ_FRAGMENT) {
    const uint8_t *b = in + base, *end = in + (n - base < LZ_FRAGMENT ? n : base + LZ_FRAGMENT);
    const size_t len = (size_t)(end - b);
    /* Candidates are a fraction of the positions: a table of len/2 entries is as good as len. */
    int bits = 8;
    while (bits < LZ_TABLE_BITS && ((size_t)1 << bits) < len / 2) bits++;
    const int shift = 32 - bits;
    memset(table, 0, sizeof(uint16_t) << bits); /* 0: empty (position 0 is never a candidate) */
    const uint8_t *lit = b;
    if (len >= 9) {
      const uint8_t *ip = b + 1, *limit = end - 8; /* a candidate needs 8 readable bytes */
      const uint8_t *probed = b; /* where a candidate was last looked up */
      uint32_t skip = 32;        /* (skip >> 5) is the step: it grows with each miss in a row */
      while (ip < limit) {
        if (!boundary[ip[-1]] && ip - probed < LZ_PROBE_EVERY) {
          ip = lz_advance(ip, limit, skip >> 5);
          continue;
        }
        probed = ip;
        uint32_t h = lz_hash(ip, shift);
        const uint8_t *cand = b + table[h];
        table[h] = (uint16_t)(ip - b);
        uint32_t head;
        memcpy(&head, ip, 4);
        if (cand == b || memcmp(cand, &head, 4) != 0) {
          ip = lz_advance(ip, limit, skip++ >> 5);
          continue;
        }
        const uint8_t *s = ip, *c = cand; /* grow backwards into the literal */
        while (s > lit && c > b && s[-1] == c[-1]) s--, c--;
        const uint8_t *e = ip + 4, *ce = cand + 4; /* and forwards, 8 bytes at a time */
        for (;;) {
          if (end - e < 8) {
            while (e < end && *e == *ce) e++, ce++;
            break;
          }
          uint64_t x = rd64(e) ^ rd64(ce);
          if (x != 0) {
            e += __builtin_ctzll(x) >> 3;
            break;
          }
          e += 8;
          ce += 8;
        }
        o = lz_literal(o, lit, (size_t)(s - lit));
        o = lz_copy(o, (size_t)(s - c), (size_t)(e - s));
        ip = lit = e;
        skip = 32;
      }
    }
    o = lz_literal(o, lit, (size_t)(end - lit));
  }
  return (size_t)(o - out);
}

/*
 * `uncompress_block`: a snappy block (remote write bodies) into a buffer the caller reuses, so a
 * request's decompressed bytes need no fresh allocation. The `snappy` package decodes into a new
 * buffer per call, and on the development VM touching those fresh pages cost ~10 % of a core at
 * ~1 M samples/s (page faults on memory the allocator had just handed back to the kernel).
 * Every length and offset is checked against both buffers: bodies come from the network.
 */

/* A copy of `len` bytes from `off` back (off ≥ 1, already checked), overlapping as LZ77 means it. */
static inline void lz_repeat(uint8_t *op, size_t off, size_t len) {
  const uint8_t *from = op - off;
  size_t i = 0;
  if (off >= 8) {
    /* 8 bytes at a time: each chunk's source lies wholly before its destination */
    for (; i + 8 <= len; i += 8) memcpy(op + i, from + i, 8);
  }
  for (; i < len; i++) op[i] = from[i];
}

/* The snappy block in[0, n) into out[0, out_len): its decoded length, or -1 when it is corrupt,
 * truncated, or declares more than out_len or other than it decodes to. */
static int64_t uncompress_block(const uint8_t *in, size_t n, uint8_t *out, size_t out_len) {
  const uint8_t *ip = in, *end = in + n;
  uint64_t declared = 0;
  for (int shift = 0;; shift += 7) {
    if (ip == end || shift > 28) return -1;
    uint8_t byte = *ip++;
    declared |= (uint64_t)(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  if (declared > out_len || declared > 0xffffffffu) return -1;
  uint8_t *op = out, *oend = out + declared;
  while (ip < end) {
    const uint8_t tag = *ip++;
    size_t len, off;
    /* Fast paths for the short elements protobuf is mostly made of, while 16 bytes of slack
     * remain on both sides: copy 16 bytes and keep `len` of them (the rest is overwritten by
     * what follows; `op == oend` at the end still decides). */
    if (end - ip >= 16 && oend - op >= 16) {
      if ((tag & 3) == 0 && tag < (16 << 2)) {
        len = (size_t)(tag >> 2) + 1;
        memcpy(op, ip, 8);
        memcpy(op + 8, ip + 8, 8);
        op += len;
        ip += len;
        continue;
      }
      if ((tag & 3) == 1 || ((tag & 3) == 2 && tag < (16 << 2))) {
        if ((tag & 3) == 1) {
          len = 4 + ((tag >> 2) & 7);
          off = ((size_t)(tag >> 5) << 8) | *ip++;
        } else {
          len = 1 + (size_t)(tag >> 2);
          off = (size_t)ip[0] | (size_t)ip[1] << 8;
          ip += 2;
        }
        if (off < 8 || off > (size_t)(op - out)) goto copy; /* overlapping, or checked there */
        memcpy(op, op - off, 8);
        memcpy(op + 8, op - off + 8, 8);
        op += len;
        continue;
      }
    }
    switch (tag & 3) {
      case 0:
        len = tag >> 2;
        if (len >= 60) {
          size_t extra = len - 59; /* 1–4 little-endian bytes of length − 1 */
          if ((size_t)(end - ip) < extra) return -1;
          len = 0;
          for (size_t i = 0; i < extra; i++) len |= (size_t)ip[i] << (8 * i);
          ip += extra;
        }
        len++;
        if ((size_t)(end - ip) < len || (size_t)(oend - op) < len) return -1;
        memcpy(op, ip, len);
        op += len;
        ip += len;
        continue;
      case 1:
        if (ip == end) return -1;
        len = 4 + ((tag >> 2) & 7);
        off = ((size_t)(tag >> 5) << 8) | *ip++;
        break;
      case 2:
        if (end - ip < 2) return -1;
        len = 1 + (size_t)(tag >> 2);
        off = (size_t)ip[0] | (size_t)ip[1] << 8;
        ip += 2;
        break;
      default:
        if (end - ip < 4) return -1;
        len = 1 + (size_t)(tag >> 2);
        off = (size_t)ip[0] | (size_t)ip[1] << 8 | (size_t)ip[2] << 16 | (size_t)ip[3] << 24;
        ip += 4;
        break;
    }
  copy:
    if (off == 0 || off > (size_t)(op - out) || len > (size_t)(oend - op)) return -1;
    lz_repeat(op, off, len);
    op += len;
  }
  return op == oend ? (int64_t)declared : -1;
}
