/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * What every part uses: the system headers, result codes, byte reads and writes, growable arrays.
 */
#pragma once

#define _GNU_SOURCE /* sync_file_range */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OK = 0, FALLBACK = 1 };

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* v as 4 big-endian bytes at o (WAL frame lengths, block row counts). */
static inline void put_u32be(uint8_t *o, uint32_t v) {
  o[0] = (uint8_t)(v >> 24);
  o[1] = (uint8_t)(v >> 16);
  o[2] = (uint8_t)(v >> 8);
  o[3] = (uint8_t)v;
}

/* `p` (`*cap` elements of `elem` bytes) reallocated to hold `need` > *cap, doubling from `first`; NULL when out of memory. */
static void *grow_array(void *p, size_t *cap, size_t need, size_t first, size_t elem) {
  size_t size = *cap ? *cap * 2 : first;
  while (size < need) size *= 2;
  void *grown = realloc(p, size * elem);
  if (grown != NULL) *cap = size;
  return grown;
}

/*
 * Makes the growable array `arr` (with `cap` elements, a size_t) hold at least `need` elements,
 * doubling from `first`: 1, or 0 when out of memory (the array is then left as it was).
 */
#define RESERVE(arr, cap, need, first)                                                       \
  ((need) <= (cap) || ({                                                                     \
     void *grown_ = grow_array((arr), &(cap), (need), (first), sizeof *(arr));                \
     if (grown_ != NULL) (arr) = grown_;                                                      \
     grown_ != NULL;                                                                          \
   }))
