/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 *
 * The CRC-32 (IEEE) of a WAL frame's payload, filled in by the calls that frame blocks
 * (`frameTables`, `compressBlock`), so that JavaScript no longer makes one zlib.crc32 call per
 * frame (with 1000 tables that is ~1000 calls per flush).
 *
 * It is Node's own zlib `crc32_z`, which the node executable exports to addons (the same code
 * `zlib.crc32` runs, with its SIMD folding): the addon is only ever loaded into node. The symbol is
 * weak, so a node built without it still loads the addon; the byte-at-a-time table below then
 * computes the same value, slower.
 */
#pragma once

extern unsigned long crc32_z(unsigned long crc, const unsigned char *buf, size_t len) __attribute__((weak));

/* CRC-32 (IEEE, reflected 0xEDB88320) one byte at a time: only where node lacks crc32_z. */
static uint32_t crc32_bytewise(const uint8_t *p, size_t n) {
  static uint32_t table[256];
  static int ready;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1; /* every thread writes the same values: a benign race */
  }
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* The CRC-32 of p[0, n). */
static uint32_t frame_crc(const uint8_t *p, size_t n) { return crc32_z != NULL ? (uint32_t)crc32_z(0, p, n) : crc32_bytewise(p, n); }
