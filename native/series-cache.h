/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * The series cache: the layout and policy of src/transform/series-cache.ts.
 */
#pragma once

enum { SLOT = 8, S_GEN = 0, S_HASH = 1, S_KEY_AT = 2, S_KEY_LEN = 3, S_MID_LEN = 4, S_TABLE = 5 };
#define BYTES_PER_ENTRY 192
#define SATURATED_LOOKUPS_PER_ENTRY 16
#define INITIAL_SLOTS (1u << 14)

/*
 * A multiply-xorshift hash over 8-byte words: keys are ~100–400 bytes of label text. Four lanes
 * take 32 bytes per step, each its own multiply chain, so the CPU runs them side by side: one
 * chain was 5 % of a core at ~1 M samples/s, waiting on each multiply in turn.
 */
static inline uint64_t hash_lane(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}

static uint32_t hash_key(const uint8_t *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
  uint64_t h1 = h + 0x632be59bd9b4e019ull, h2 = h ^ 0x8cb92ba72f3d8dd7ull, h3 = h - 0x2545f4914f6cdd1dull;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    h = hash_lane(h, rd64(p + i));
    h1 = hash_lane(h1, rd64(p + i + 8));
    h2 = hash_lane(h2, rd64(p + i + 16));
    h3 = hash_lane(h3, rd64(p + i + 24));
  }
  h = hash_lane(h, rotl64(h1, 17) ^ rotl64(h2, 31) ^ rotl64(h3, 47));
  for (; i + 8 <= n; i += 8) h = hash_lane(h, rd64(p + i));
  if (i < n) {
    uint64_t t = 0;
    memcpy(&t, p + i, n - i);
    h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
  }
  h ^= h >> 29;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 32;
  return (uint32_t)h;
}

static inline uint32_t slot_of(uint32_t h, uint32_t mask) { return (h ^ (h >> 15)) & mask; }

/* Entry (slot base index) for the key with hash `h`, or -1; a miss remembers its slot for `cache_insert`. */
static int64_t cache_find(Ctx *c, const uint8_t *key, size_t n, uint32_t h) {
  uint32_t slot = slot_of(h, c->mask);
  int32_t *slots = c->slots;
  for (;;) {
    int32_t *s = slots + (size_t)slot * SLOT;
    if (s[S_GEN] != c->generation) break;
    if ((uint32_t)s[S_HASH] == h && (size_t)s[S_KEY_LEN] == n && memcmp(c->arena + s[S_KEY_AT], key, n) == 0) {
      c->hits++;
      return (int64_t)slot * SLOT;
    }
    slot = (slot + 1) & c->mask;
  }
  c->misses++;
  c->miss_slot = slot;
  c->miss_hash = h;
  return -1;
}

static void cache_clear(Ctx *c) {
  c->generation++;
  c->entries = 0;
  c->arena_used = 0;
  c->miss_slot = -1;
  c->saturated_until = 0;
  c->lookups_at_clear = c->hits + c->misses;
  c->hits_at_clear = c->hits;
}

/* Doubles the slot table; returns 0 when out of memory (the table stays as it was). */
static int cache_grow(Ctx *c) {
  uint32_t size = (c->mask + 1) * 2;
  int32_t *next = calloc((size_t)size * SLOT, sizeof(int32_t));
  if (next == NULL) return 0;
  uint32_t mask = size - 1;
  for (size_t base = 0; base < (size_t)(c->mask + 1) * SLOT; base += SLOT) {
    const int32_t *s = c->slots + base;
    if (s[S_GEN] != c->generation) continue;
    uint32_t slot = slot_of((uint32_t)s[S_HASH], mask);
    while (next[(size_t)slot * SLOT + S_GEN] == c->generation) slot = (slot + 1) & mask;
    memcpy(next + (size_t)slot * SLOT, s, SLOT * sizeof(int32_t));
  }
  free(c->slots);
  c->slots = next;
  c->mask = mask;
  return 1;
}

/* Re-probes for `key` after the table changed, without counting the lookup. */
static void cache_reprobe(Ctx *c, const uint8_t *key, size_t n) {
  cache_find(c, key, n, c->miss_hash);
  c->misses--;
}

/* Stores the entry for the key of the last missed find (the policy of SeriesCache.insert). */
static void cache_insert(Ctx *c, const uint8_t *key, size_t key_len, const uint8_t *mid, size_t mid_len, int32_t table) {
  if (c->miss_slot < 0) return;
  if (c->saturated_until > 0) {
    if (c->hits + c->misses < c->saturated_until) return;
    cache_clear(c);
    cache_reprobe(c, key, key_len);
  } else if (2 * ((size_t)c->entries + 1) > (size_t)c->mask + 1 && c->mask + 1 < c->max_slots) {
    if (cache_grow(c)) cache_reprobe(c, key, key_len);
  }
  if (c->arena_used + key_len + mid_len > c->arena_size || 2 * ((size_t)c->entries + 1) > (size_t)c->mask + 1) {
    double lookups = c->hits + c->misses - c->lookups_at_clear;
    if (2 * (c->hits - c->hits_at_clear) < lookups) {
      c->saturated_until = c->hits + c->misses + SATURATED_LOOKUPS_PER_ENTRY * (double)c->entries;
      return;
    }
    cache_clear(c);
    cache_reprobe(c, key, key_len);
  }
  if (key_len + mid_len > c->arena_size) return;
  int32_t *s = c->slots + (size_t)c->miss_slot * SLOT;
  size_t at = c->arena_used;
  memcpy(c->arena + at, key, key_len);
  memcpy(c->arena + at + key_len, mid, mid_len);
  c->arena_used = at + key_len + mid_len;
  s[S_GEN] = c->generation;
  s[S_HASH] = (int32_t)c->miss_hash;
  s[S_KEY_AT] = (int32_t)at;
  s[S_KEY_LEN] = (int32_t)key_len;
  s[S_MID_LEN] = (int32_t)mid_len;
  s[S_TABLE] = table;
  c->entries++;
  c->miss_slot = -1;
}
