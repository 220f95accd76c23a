/*
 * adx-ingestor native hot path: remote write 1.0 → metrics CSV rows (2.0 is first rewritten as
 * 1.0 by `transcodeV2`, see "remote write 2.0" below).
 *
 * What it does, per request (`encodeV1`): walks the decompressed `prometheus.WriteRequest`,
 * looks every series up in a series cache (key: the encoded bytes of its contiguous Label
 * fields, exactly as src/transform/series-cache.ts), and writes one CSV row per sample —
 * timestamp, the cached constant middle `,SeriesId,lifted...,"{Labels}",`, value, newline —
 * into per-table buffers. A series it has not seen is prepared here when it is plainly valid
 * (see "new series" below); otherwise it is handed to a JavaScript callback (`prepare`), which
 * runs the TypeScript writer's validation and middle-building code. Either way the result is
 * cached here. The TypeScript writer stays the rule book for labels, tables, drops and escaping;
 * this file does the steady-state work (hash, compare, copy, format) and the happy path of a new
 * series, checked byte for byte against TypeScript.
 *
 * Anything outside the common shape — native histograms, labels interleaved with other fields,
 * a series without labels, unusual protobuf (3+ byte tags, overlong varints, groups),
 * timestamps outside years 1970–9999, values of 1e21 or more — makes `encodeV1` return
 * FALLBACK before any output is visible, and the caller decodes the request with the TypeScript
 * decoder, which is authoritative for errors. Output is byte-identical to the TypeScript writer
 * (test/transform/native-hot-path.test.ts checks random requests against it).
 *
 * Numbers: values are written as JavaScript `toFixed(9)` does (exact decimal expansion, ties
 * away from zero), computed exactly with 128-bit integers; timestamps as RFC 3339 with the
 * fraction's trailing zeros trimmed.
 *
 * Lifetime: one context per worker thread (not thread-safe); request bytes are borrowed for the
 * call; table outputs stay valid until the next `encodeV1` on the context.
 */
#define _GNU_SOURCE /* sync_file_range */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OK = 0, FALLBACK = 1 };

/* ---- series cache (the layout and policy of src/transform/series-cache.ts) ---- */

enum { SLOT = 8, S_GEN = 0, S_HASH = 1, S_KEY_AT = 2, S_KEY_LEN = 3, S_MID_LEN = 4, S_TABLE = 5 };
#define BYTES_PER_ENTRY 192
#define SATURATED_LOOKUPS_PER_ENTRY 16
#define INITIAL_SLOTS (1u << 14)
/* Longest (metric name, database) key the table map holds; longer ones always ask TypeScript. */
#define TKEY_MAX 1024

typedef struct {
  uint8_t *buf;
  size_t len, cap;
  uint32_t rows;
  int touched;
  uint32_t epoch; /* keepRows: the request that last marked it (see `Mark`) */
} TableOut;

/* keepRows: a table's length and rows before the current request first wrote to it. */
typedef struct {
  uint32_t id, rows;
  size_t len;
} Mark;

typedef struct {
  uint8_t *arena;
  size_t arena_size, arena_used;
  int32_t *slots;
  uint32_t mask, max_slots;
  int32_t generation;
  uint32_t entries;
  int64_t miss_slot;
  uint32_t miss_hash;
  double hits, misses, lookups_at_clear, hits_at_clear, saturated_until;

  TableOut *tables;
  uint32_t ntables;
  int32_t *touched;
  uint32_t ntouched, touched_cap;

  /* keepRows (see there): each table's block starts with `head`; rows stay across requests
   * until frameTables, and a request that does not finish takes back what it wrote. */
  uint8_t *head;
  size_t head_len;
  uint32_t epoch, touched_at_start;
  Mark *marks;
  size_t nmarks, marks_cap;

  int64_t cached_second;
  uint8_t second_text[19];

  /* The request's series (see SeriesRef), reused between requests. */
  struct SeriesRef *series;
  size_t series_cap;

  /* Per request counters. */
  double samples, rows, exemplars, dropped_series;

  /* New series prepared here (see "new series" below) when `rules` were given to `create`. */
  struct Rules *rules;
  struct Label *labels;
  size_t labels_cap;
  uint8_t *mid, *id_input;
  size_t mid_cap, id_input_cap;
  struct TableKey *tmap;
  uint32_t tmap_entries;
  uint8_t *tmap_arena;
  size_t tmap_used;
  uint8_t tkey[TKEY_MAX];
  size_t tkey_len; /* > 0: the last series was sent to `prepare` only for its table: learn it */
  double prepared_c; /* new series prepared here, not by JavaScript's `prepare` */

  /* Remote write 2.0 (see "remote write 2.0" below): symbol offsets and one series' references. */
  uint32_t *syms, *refs;
  size_t syms_cap, refs_cap;
} Ctx;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

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

/* ---- protobuf (only the accepted subset; anything else is FALLBACK) ---- */

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

/* ---- text ---- */

static uint8_t *put_u64(uint8_t *o, uint64_t v) {
  uint8_t tmp[20];
  int n = 0;
  do {
    tmp[n++] = (uint8_t)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *o++ = tmp[--n];
  return o;
}

static uint8_t *put_u128(uint8_t *o, unsigned __int128 v) {
  uint8_t tmp[40];
  int n = 0;
  do {
    tmp[n++] = (uint8_t)('0' + (unsigned)(v % 10));
    v /= 10;
  } while (v != 0);
  while (n > 0) *o++ = tmp[--n];
  return o;
}

static uint8_t *put_frac9(uint8_t *o, uint32_t q) {
  *o++ = '.';
  for (int d = 8; d >= 0; d--) {
    o[d] = (uint8_t)('0' + q % 10);
    q /= 10;
  }
  return o + 9;
}

/*
 * `formatValue` (src/transform/csv-format.ts): NaN, ±Inf, and otherwise JavaScript's
 * `toFixed(9)`: n = round(|v| · 10^9) with ties away from zero, exactly. Returns NULL for
 * |v| ≥ 1e21 (the caller falls back). At most 32 bytes.
 */
static uint8_t *put_value(uint8_t *o, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  int neg = (int)(bits >> 63);
  int exp = (int)((bits >> 52) & 0x7ff);
  uint64_t frac = bits & ((1ull << 52) - 1);
  if (exp == 0x7ff) {
    if (frac != 0) return (uint8_t *)memcpy(o, "NaN", 3) + 3;
    memcpy(o, neg ? "-Inf" : "+Inf", 4);
    return o + 4;
  }
  if (neg) *o++ = '-';
  if (v >= 1e21 || v <= -1e21) return NULL;
  uint64_t m;
  int e;
  if (exp == 0) {
    m = frac; /* subnormal (or zero) */
    e = -1074;
  } else {
    m = frac | (1ull << 52);
    e = exp - 1075;
  }
  if (e >= 0) { /* an integer below 1e21 < 2^70 */
    o = put_u128(o, (unsigned __int128)m << e);
    return put_frac9(o, 0);
  }
  int k = -e;
  uint64_t int_part = k < 64 ? m >> k : 0;
  uint64_t rest = k < 64 ? m & ((1ull << k) - 1) : m;
  unsigned __int128 p = (unsigned __int128)rest * 1000000000u; /* < 2^83 */
  uint64_t q = 0;
  if (k < 128) {
    q = (uint64_t)(p >> k);
    unsigned __int128 rem = p - ((unsigned __int128)q << k);
    if (rem >= ((unsigned __int128)1 << (k - 1))) q++; /* ties away from zero, as toFixed */
  } /* else: p < 2^83 < half of 2^k, rounds to 0 */
  if (q == 1000000000u) {
    int_part++;
    q = 0;
  }
  o = put_u64(o, int_part);
  return put_frac9(o, (uint32_t)q);
}

/* Days since 1970-01-01 → civil date (H. Hinnant's algorithm), for days ≥ 0. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(uint8_t *o, unsigned v) {
  o[0] = (uint8_t)('0' + v / 10);
  o[1] = (uint8_t)('0' + v % 10);
}

/* Last millisecond of 9999-12-31: four-digit years only (the TypeScript writer handles others). */
#define MAX_FAST_MS 253402300799999LL

/* `writeTimestamp`: 2024-05-01T12:00:00.5Z, for 0 ≤ ms ≤ MAX_FAST_MS. At most 24 bytes. */
static uint8_t *put_timestamp(Ctx *c, uint8_t *o, int64_t ms) {
  int64_t second = ms / 1000;
  unsigned frac = (unsigned)(ms % 1000);
  if (second != c->cached_second) {
    int64_t days = second / 86400, y;
    unsigned sod = (unsigned)(second % 86400), mo, d;
    civil_from_days(days, &y, &mo, &d);
    uint8_t *t = c->second_text;
    put2(t, (unsigned)(y / 100));
    put2(t + 2, (unsigned)(y % 100));
    t[4] = '-';
    put2(t + 5, mo);
    t[7] = '-';
    put2(t + 8, d);
    t[10] = 'T';
    put2(t + 11, sod / 3600);
    t[13] = ':';
    put2(t + 14, sod / 60 % 60);
    t[16] = ':';
    put2(t + 17, sod % 60);
    c->cached_second = second;
  }
  memcpy(o, c->second_text, 19);
  o += 19;
  if (frac != 0) {
    *o++ = '.';
    *o++ = (uint8_t)('0' + frac / 100);
    if (frac % 100 != 0) {
      *o++ = (uint8_t)('0' + frac / 10 % 10);
      if (frac % 10 != 0) *o++ = (uint8_t)('0' + frac % 10);
    }
  }
  *o++ = 'Z';
  return o;
}

/* ---- per-table output ---- */

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

/* From 4 KiB: with thousands of tables a few rows each, 64 KiB apiece was tens of MiB per worker. */
static int table_reserve(TableOut *t, size_t n) { return RESERVE(t->buf, t->cap, t->len + n, 4096); }

static TableOut *table_out(Ctx *c, uint32_t id) {
  if (id >= c->ntables) {
    uint32_t n = c->ntables ? c->ntables : 64;
    while (n <= id) n *= 2;
    TableOut *t = realloc(c->tables, (size_t)n * sizeof(TableOut));
    if (t == NULL) return NULL;
    memset(t + c->ntables, 0, (size_t)(n - c->ntables) * sizeof(TableOut));
    c->tables = t;
    c->ntables = n;
  }
  TableOut *t = &c->tables[id];
  if (t->touched && c->head_len > 0 && t->epoch != c->epoch) {
    /* keepRows: the first write of this request to a table earlier requests wrote to */
    if (!RESERVE(c->marks, c->marks_cap, c->nmarks + 1, 64)) return NULL;
    c->marks[c->nmarks++] = (Mark){id, t->rows, t->len};
    t->epoch = c->epoch;
  }
  if (!t->touched) {
    t->len = 0;
    if (c->head_len > 0) {
      if (!table_reserve(t, c->head_len)) return NULL;
      memcpy(t->buf, c->head, c->head_len);
      t->len = c->head_len;
      t->epoch = c->epoch; /* the rollback untouches it */
    }
    if (c->ntouched == c->touched_cap) {
      uint32_t n = c->touched_cap ? c->touched_cap * 2 : 64;
      int32_t *list = realloc(c->touched, (size_t)n * sizeof(int32_t));
      if (list == NULL) return NULL;
      c->touched = list;
      c->touched_cap = n;
    }
    c->touched[c->ntouched++] = (int32_t)id;
    t->touched = 1;
    t->rows = 0;
  }
  return t;
}


static void reset_request(Ctx *c) {
  for (uint32_t i = 0; i < c->ntouched; i++) c->tables[c->touched[i]].touched = 0;
  c->ntouched = 0;
  c->samples = c->rows = c->exemplars = c->dropped_series = 0;
}

/* keepRows: a request starts; what earlier ones wrote stays. */
static void begin_kept_request(Ctx *c) {
  c->epoch++;
  c->nmarks = 0;
  c->touched_at_start = c->ntouched;
  c->samples = c->rows = c->exemplars = c->dropped_series = 0;
}

/* keepRows: the request did not finish (fallback or a JavaScript error): take back its rows. */
static void rollback_kept_request(Ctx *c) {
  for (size_t i = c->nmarks; i-- > 0;) {
    TableOut *t = &c->tables[c->marks[i].id];
    t->len = c->marks[i].len;
    t->rows = c->marks[i].rows;
  }
  for (uint32_t i = c->touched_at_start; i < c->ntouched; i++) c->tables[c->touched[i]].touched = 0;
  c->ntouched = c->touched_at_start;
  c->nmarks = 0;
  c->samples = c->rows = c->exemplars = c->dropped_series = 0;
}

/* keepRows: bytes held for the next frameTables. */
static double kept_bytes(const Ctx *c) {
  double n = 0;
  for (uint32_t i = 0; i < c->ntouched; i++) n += (double)c->tables[c->touched[i]].len;
  return n;
}


/* ---- new series, prepared in C (the common case) ----
 *
 * A series the cache has not seen needs its middle `,SeriesId,lifted...,"{Labels}",` and its
 * table. `MetricsCsvWriter.#prepare` (TypeScript) is the rule book; this is a second, narrower
 * implementation of its happy path only, byte for byte, so that series churn (1 M series, pods
 * coming and going) does not cost a JavaScript call per new series. Anything it is not sure of
 * goes to `prepare` in JavaScript, which then throws the error or writes the middle:
 *   - rules that drop labels or metrics (then `create` gets no rules: all to JS; --add-labels
 *     are applied here as `LabelRanges.set` does);
 *   - a Label that is not exactly `name` then `value`, an empty name, a name or value over the
 *     limit, more labels than the limit, two labels of the same name, no `__name__`;
 *   - any byte ≥ 0x80 (UTF-8 validation and U+2028/9 escapes stay in TypeScript);
 *   - a (metric name, adxmon_database) pair whose table it has not learnt: the first series of
 *     each table goes to JavaScript, which names the table and gives its id; C remembers it.
 * test/transform/native-hot-path.test.ts checks random requests against the TypeScript writer.
 */

/* A list of byte strings from JavaScript (copied). */
typedef struct {
  uint32_t n;
  uint8_t **at;
  uint32_t *len;
} Bytes;

typedef struct Rules {
  uint32_t max_label_bytes, max_labels;
  Bytes lifted; /* lower-cased, in the writer's order */
  Bytes add_names, add_values; /* --add-labels, in order */
} Rules;

typedef struct Label {
  const uint8_t *name, *value;
  uint32_t name_len, value_len;
} Label;

/* (metric name, database label) → table id; open addressing, cleared when full. */
typedef struct TableKey {
  uint32_t hash, at, len;
  int32_t table; /* -1: empty slot */
} TableKey;
#define TMAP_SLOTS (1u << 16)
#define TMAP_MAX_ENTRIES (TMAP_SLOTS / 2)
#define TMAP_ARENA (4u << 20)

static const uint8_t NAME_LABEL[] = "__name__";
static const uint8_t DATABASE_LABEL[] = "adxmon_database";
static const uint8_t ADXMON_PREFIX[] = "adxmon_";

static inline uint8_t lower(uint8_t b) { return b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b; }

static inline int bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) { return an == bn && memcmp(a, b, an) == 0; }

static int eq_lower(const uint8_t *s, size_t n, const uint8_t *low, size_t ln) {
  if (n != ln) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != low[i]) return 0;
  return 1;
}

/* `LabelRanges.compare`: adx-mon's CompareLower on names (ties by bytes). */
static int compare_lower(const Label *a, const Label *b) {
  size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
  int tie = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t x = a->name[i], y = b->name[i];
    if (x == y) continue;
    if (lower(x) != lower(y)) return (int)lower(x) - (int)lower(y);
    if (tie == 0) tie = (int)x - (int)y;
  }
  long d = (long)a->name_len - (long)b->name_len;
  return d != 0 ? (d < 0 ? -1 : 1) : tie;
}

/* XXH64 with seed 0 (xxhash-wasm's h64Raw), little-endian. */
#define XP1 0x9E3779B185EBCA87ull
#define XP2 0xC2B2AE3D27D4EB4Full
#define XP3 0x165667B19E3779F9ull
#define XP4 0x85EBCA77C2B2AE63ull
#define XP5 0x27D4EB2F165667C5ull
static inline uint64_t xxh_round(uint64_t acc, uint64_t in) { return rotl64(acc + in * XP2, 31) * XP1; }
static inline uint64_t xxh_merge(uint64_t h, uint64_t v) { return (h ^ xxh_round(0, v)) * XP1 + XP4; }

static uint64_t xxh64(const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = XP1 + XP2, v2 = XP2, v3 = 0, v4 = 0 - XP1;
    do {
      v1 = xxh_round(v1, rd64(p));
      v2 = xxh_round(v2, rd64(p + 8));
      v3 = xxh_round(v3, rd64(p + 16));
      v4 = xxh_round(v4, rd64(p + 24));
      p += 32;
    } while (end - p >= 32);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xxh_merge(h, v1);
    h = xxh_merge(h, v2);
    h = xxh_merge(h, v3);
    h = xxh_merge(h, v4);
  } else {
    h = XP5;
  }
  h += (uint64_t)len;
  for (; end - p >= 8; p += 8) h = rotl64(h ^ xxh_round(0, rd64(p)), 27) * XP1 + XP4;
  if (end - p >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    h = rotl64(h ^ ((uint64_t)w * XP1), 23) * XP2 + XP3;
    p += 4;
  }
  for (; p < end; p++) h = rotl64(h ^ ((uint64_t)*p * XP5), 11) * XP1;
  h ^= h >> 33;
  h *= XP2;
  h ^= h >> 29;
  h *= XP3;
  h ^= h >> 32;
  return h;
}

/* `writeJsonInCsv` for ASCII: JSON string escapes (Go's, with <, >, & as \u00XX), `"` doubled. */
static uint8_t *put_json_in_csv(uint8_t *o, const uint8_t *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    uint8_t b = s[i];
    if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&') {
      *o++ = b;
    } else if (b == '"') {
      *o++ = '\\';
      *o++ = '"';
      *o++ = '"';
    } else if (b == '\\') {
      *o++ = '\\';
      *o++ = '\\';
    } else if (b == '\n' || b == '\r' || b == '\t') {
      *o++ = '\\';
      *o++ = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = (uint8_t)hex[b >> 4];
      o[5] = (uint8_t)hex[b & 15];
      o += 6;
    }
  }
  return o;
}

/* `writeCsvField`: quoted when it starts with a space or tab or holds `"`, `,`, CR or LF. */
static uint8_t *put_csv_field(uint8_t *o, const uint8_t *s, size_t n) {
  int quote = n > 0 && (s[0] == ' ' || s[0] == '\t');
  for (size_t i = 0; i < n && !quote; i++) quote = s[i] == '"' || s[i] == ',' || s[i] == '\n' || s[i] == '\r';
  if (!quote) {
    memcpy(o, s, n);
    return o + n;
  }
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    *o++ = s[i];
    if (s[i] == '"') *o++ = '"';
  }
  *o++ = '"';
  return o;
}

static int ascii(const uint8_t *s, size_t n) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) any |= rd64(s + i);
  for (; i < n; i++) any |= s[i];
  return (any & 0x8080808080808080ull) == 0;
}

static void tmap_clear(Ctx *c) {
  for (uint32_t i = 0; i < TMAP_SLOTS; i++) c->tmap[i].table = -1;
  c->tmap_entries = 0;
  c->tmap_used = 0;
}

/* The table id learnt for the key in c->tkey (hash `h`), or -1 with the free slot in `*slot_out`. */
static int32_t tmap_find(const Ctx *c, uint32_t h, uint32_t *slot_out) {
  uint32_t slot = h & (TMAP_SLOTS - 1);
  for (;;) {
    const TableKey *k = &c->tmap[slot];
    if (k->table < 0) break;
    if (k->hash == h && k->len == c->tkey_len && memcmp(c->tmap_arena + k->at, c->tkey, k->len) == 0) return k->table;
    slot = (slot + 1) & (TMAP_SLOTS - 1);
  }
  *slot_out = slot;
  return -1;
}

/* Remembers the table TypeScript chose for the key in c->tkey (after a table-only miss). */
static void tmap_learn(Ctx *c, int32_t table) {
  size_t n = c->tkey_len;
  if (n > 0 && table >= 0 && c->tmap != NULL) {
    if (c->tmap_entries >= TMAP_MAX_ENTRIES || c->tmap_used + n > TMAP_ARENA) tmap_clear(c);
    uint32_t h = hash_key(c->tkey, n), slot;
    if (tmap_find(c, h, &slot) < 0) {
      memcpy(c->tmap_arena + c->tmap_used, c->tkey, n);
      c->tmap[slot] = (TableKey){h, (uint32_t)c->tmap_used, (uint32_t)n, table};
      c->tmap_used += n;
      c->tmap_entries++;
    }
  }
  c->tkey_len = 0;
}

/* Room in c->labels for label index `n`; 0 when out of memory. */
static int labels_room(Ctx *c, uint32_t n) { return RESERVE(c->labels, c->labels_cap, (size_t)n + 1, 32); }

/*
 * The series' labels into c->labels, with --add-labels applied as `LabelRanges.set` does,
 * sorted as `LabelRanges.sort`: their count, or 0 for anything TypeScript must see (see above).
 */
static uint32_t collect_labels(Ctx *c, const Rules *rules, const uint8_t *key, size_t key_len) {
  uint32_t n = 0;
  Rd r = {key, key + key_len};
  while (r.p < r.end) {
    uint32_t tag;
    size_t len, nl, vl;
    if (!rd_tag(&r, &tag) || tag != 0x0a || !rd_len(&r, &len)) return 0;
    Rd l = {r.p, r.p + len};
    r.p += len;
    if (!rd_tag(&l, &tag) || tag != 0x0a || !rd_len(&l, &nl)) return 0;
    const uint8_t *name = l.p;
    l.p += nl;
    if (!rd_tag(&l, &tag) || tag != 0x12 || !rd_len(&l, &vl) || l.p + vl != l.end) return 0;
    const uint8_t *value = l.p;
    if (nl == 0 || nl > rules->max_label_bytes || vl > rules->max_label_bytes) return 0;
    if (vl == 0) continue; /* an empty value is the same as no label */
    if (n == rules->max_labels || !labels_room(c, n)) return 0;
    c->labels[n++] = (Label){name, value, (uint32_t)nl, (uint32_t)vl};
  }
  /* --add-labels: replace the first label of that name, or add one (counted like the others). */
  for (uint32_t k = 0; k < rules->add_names.n; k++) {
    const uint8_t *name = rules->add_names.at[k], *value = rules->add_values.at[k];
    uint32_t nl = rules->add_names.len[k], vl = rules->add_values.len[k], j = 0;
    while (j < n && !bytes_eq(c->labels[j].name, c->labels[j].name_len, name, nl)) j++;
    if (j == n) {
      if (n == rules->max_labels || !labels_room(c, n)) return 0;
      n++;
    }
    c->labels[j] = (Label){name, value, nl, vl};
  }
  /* Insertion sort, as LabelRanges.sort: a series has a few dozen labels at most. */
  Label *ls = c->labels;
  for (uint32_t i = 1; i < n; i++) {
    Label x = ls[i];
    uint32_t j = i;
    while (j > 0 && compare_lower(&ls[j - 1], &x) > 0) {
      ls[j] = ls[j - 1];
      j--;
    }
    ls[j] = x;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (i > 0 && compare_lower(&ls[i - 1], &ls[i]) == 0) return 0; /* the same label twice */
    if (!ascii(ls[i].name, ls[i].name_len) || !ascii(ls[i].value, ls[i].value_len)) return 0;
  }
  return n;
}

/*
 * The table id learnt for (metric name, database label), or -1. On -1 with c->tkey_len set, the
 * series goes to TypeScript only for its table, and `tmap_learn` keeps the answer.
 */
static int32_t table_for(Ctx *c, const Label *metric, const Label *database) {
  size_t tk = 4 + metric->value_len + (database ? 1 + database->value_len : 0);
  if (tk > TKEY_MAX) return -1;
  /* Key: the name's length, the name, then the database label's value if there is one. */
  memcpy(c->tkey, &metric->value_len, 4);
  memcpy(c->tkey + 4, metric->value, metric->value_len);
  if (database != NULL) {
    c->tkey[4 + metric->value_len] = 1;
    memcpy(c->tkey + 5 + metric->value_len, database->value, database->value_len);
  }
  if (c->tmap == NULL) {
    c->tmap = malloc(TMAP_SLOTS * sizeof(TableKey));
    c->tmap_arena = malloc(TMAP_ARENA);
    if (c->tmap == NULL || c->tmap_arena == NULL) {
      free(c->tmap);
      free(c->tmap_arena);
      c->tmap = NULL;
      c->tmap_arena = NULL;
      return -1;
    }
    tmap_clear(c);
  }
  c->tkey_len = tk;
  uint32_t slot;
  int32_t found = tmap_find(c, hash_key(c->tkey, tk), &slot);
  if (found >= 0) c->tkey_len = 0;
  return found;
}

/* `MetricsCsvWriter.#writeMiddle` into c->mid: `,SeriesId,lifted...,"{Labels}",`; its length, or 0 when out of memory. */
static size_t write_middle(Ctx *c, const Rules *rules, const Label *ls, uint32_t n, const Label *metric) {
  size_t text = 0, longest = 0;
  for (uint32_t i = 0; i < n; i++) {
    text += ls[i].name_len + ls[i].value_len;
    if (ls[i].value_len > longest) longest = ls[i].value_len;
  }
  /* SeriesId: xxhash64 of every name and value in label order, as a signed decimal. */
  if (!RESERVE(c->id_input, c->id_input_cap, text, 1024)) return 0;
  uint8_t *id = c->id_input;
  for (uint32_t i = 0; i < n; i++) {
    memcpy(id, ls[i].name, ls[i].name_len);
    memcpy(id + ls[i].name_len, ls[i].value, ls[i].value_len);
    id += ls[i].name_len + ls[i].value_len;
  }
  /* Worst case: 6 bytes (\u00XX) per byte of JSON, a quoted lifted value twice its length. */
  size_t room = 32 + 6 * text + 12 * (size_t)n + (size_t)rules->lifted.n * (2 * longest + 3);
  if (!RESERVE(c->mid, c->mid_cap, room, 1024)) return 0;
  uint8_t *o = c->mid;
  *o++ = ',';
  uint64_t h = xxh64(c->id_input, text);
  if ((int64_t)h < 0) {
    *o++ = '-';
    h = 0 - h;
  }
  o = put_u64(o, h);
  for (uint32_t k = 0; k < rules->lifted.n; k++) {
    *o++ = ',';
    const Label *last = NULL;
    for (uint32_t i = 0; i < n; i++)
      if (eq_lower(ls[i].name, ls[i].name_len, rules->lifted.at[k], rules->lifted.len[k])) last = &ls[i];
    if (last != NULL) o = put_csv_field(o, last->value, last->value_len);
  }
  memcpy(o, ",\"{", 3);
  o += 3;
  int first = 1;
  for (uint32_t i = 0; i < n; i++) {
    const Label *l = &ls[i];
    if (l == metric || (l->name_len >= sizeof ADXMON_PREFIX - 1 && memcmp(l->name, ADXMON_PREFIX, sizeof ADXMON_PREFIX - 1) == 0)) continue;
    int lifted = 0;
    for (uint32_t k = 0; k < rules->lifted.n && !lifted; k++) lifted = eq_lower(l->name, l->name_len, rules->lifted.at[k], rules->lifted.len[k]);
    if (lifted) continue;
    if (!first) *o++ = ',';
    first = 0;
    *o++ = '"';
    *o++ = '"';
    o = put_json_in_csv(o, l->name, l->name_len);
    memcpy(o, "\"\":\"\"", 5);
    o = put_json_in_csv(o + 5, l->value, l->value_len);
    *o++ = '"';
    *o++ = '"';
  }
  memcpy(o, "}\",", 3);
  o += 3;
  return (size_t)(o - c->mid);
}

/*
 * Prepares the series whose Label fields are `key`: on 1, `*mid`/`*mid_len` (valid until the
 * next call) and `*table` are set. On 0 the series goes to JavaScript's `prepare`; if only its
 * table was unknown, c->tkey_len is left set so that `tmap_learn` can keep the answer.
 */
static int prepare_in_c(Ctx *c, const uint8_t *key, size_t key_len, const uint8_t **mid, size_t *mid_len, int32_t *table) {
  const Rules *rules = c->rules;
  c->tkey_len = 0;
  if (rules == NULL) return 0;
  uint32_t n = collect_labels(c, rules, key, key_len);
  const Label *metric = NULL, *database = NULL;
  for (uint32_t i = 0; i < n; i++) {
    if (bytes_eq(c->labels[i].name, c->labels[i].name_len, NAME_LABEL, sizeof NAME_LABEL - 1)) metric = &c->labels[i];
    else if (bytes_eq(c->labels[i].name, c->labels[i].name_len, DATABASE_LABEL, sizeof DATABASE_LABEL - 1)) database = &c->labels[i];
  }
  if (metric == NULL) return 0;
  int32_t found = table_for(c, metric, database);
  if (found < 0) return 0;
  size_t len = write_middle(c, rules, c->labels, n, metric);
  if (len == 0) return 0;
  *mid = c->mid;
  *mid_len = len;
  *table = found;
  return 1;
}

static void bytes_free(Bytes *b) {
  for (uint32_t i = 0; i < b->n; i++) free(b->at[i]);
  free(b->at);
  free(b->len);
}

static void rules_free(Rules *rules) {
  if (rules == NULL) return;
  bytes_free(&rules->lifted);
  bytes_free(&rules->add_names);
  bytes_free(&rules->add_values);
  free(rules);
}

/* ---- the request walk ---- */

typedef struct {
  napi_env env;
  napi_value prepare; /* (keyStart, keyEnd) => Buffer holding the middle; io[0] table, io[1] length */
  int32_t *io;
  const uint8_t *base;
} Call;

/* Result of a series' walk: OK, FALLBACK, or ERR (a JS exception is pending). */
enum { ERR = 2 };

/* One TimeSeries of the request, as found by `scan_series`. */
typedef struct SeriesRef {
  const uint8_t *key; /* its contiguous Label fields: the cache key */
  const uint8_t *data; /* first Sample or Exemplar field, or NULL */
  const uint8_t *end;
  uint32_t key_len, hash;
} SeriesRef;

/* Where a series' labels and data are; FALLBACK for what the TypeScript decoder must handle. */
static int scan_series(const uint8_t *s, const uint8_t *e, SeriesRef *ref) {
  Rd r = {s, e};
  const uint8_t *key_start = NULL, *key_end = NULL, *data_start = NULL;
  while (r.p < r.end) {
    const uint8_t *at = r.p;
    uint32_t tag;
    if (!rd_tag(&r, &tag)) return FALLBACK;
    if (tag == 0x0a) {
      size_t n;
      if (key_start == NULL) key_start = at;
      else if (key_end != at) return FALLBACK; /* labels interleaved with other fields */
      if (!rd_len(&r, &n)) return FALLBACK;
      r.p += n;
      key_end = r.p;
    } else {
      if (tag == 0x22) return FALLBACK; /* native histograms: the TypeScript path */
      if (data_start == NULL && (tag == 0x12 || tag == 0x1a)) data_start = at;
      if (!rd_skip(&r, tag)) return FALLBACK;
    }
  }
  if (key_start == NULL) return FALLBACK; /* no labels: the TypeScript path words the error */
  ref->key = key_start;
  ref->key_len = (uint32_t)(key_end - key_start);
  ref->data = data_start;
  ref->end = e;
  ref->hash = hash_key(key_start, ref->key_len);
  return OK;
}

/*
 * Asks the memory system for a series' cache entry ahead of its turn: the slot (already
 * prefetched while scanning, so this read is cheap), then the entry's key and middle in the
 * arena. Memory latency, not instructions, is most of a lookup once the series outgrow the CPU
 * caches (100 k series ≈ 45 MB of arena).
 */
static inline void prefetch_entry(const Ctx *c, const SeriesRef *ref) {
  const int32_t *s = c->slots + (size_t)slot_of(ref->hash, c->mask) * SLOT;
  if (s[S_GEN] != c->generation || (uint32_t)s[S_HASH] != ref->hash) return;
  const uint8_t *at = c->arena + s[S_KEY_AT];
  size_t n = (size_t)s[S_KEY_LEN] + (size_t)s[S_MID_LEN];
  for (size_t off = 0; off < n; off += 64) __builtin_prefetch(at + off);
}

/*
 * One row per sample of a series into its table (`write`), or only the checks (`!write`: the
 * same walk and the same FALLBACK conditions, counting and writing nothing, for any table).
 */
static int series_rows(Ctx *c, const SeriesRef *ref, int32_t table, const uint8_t *mid, size_t mid_len, int write) {
  if (ref->data == NULL) return OK;

  TableOut *t = NULL; /* created on the first sample, so exemplars alone add no table */
  Rd r = {ref->data, ref->end};
  while (r.p < r.end) {
    uint32_t tag;
    if (!rd_tag(&r, &tag)) return FALLBACK;
    if (tag == 0x1a) {
      if (!rd_skip(&r, tag)) return FALLBACK;
      if (write) c->exemplars++;
      continue;
    }
    if (tag != 0x12) {
      if (!rd_skip(&r, tag)) return FALLBACK;
      continue;
    }
    size_t n;
    if (!rd_len(&r, &n)) return FALLBACK;
    Rd sr = {r.p, r.p + n};
    r.p += n;
    double value = 0;
    uint64_t ts = 0;
    while (sr.p < sr.end) {
      uint32_t st;
      if (!rd_tag(&sr, &st)) return FALLBACK;
      if (st == 0x09) {
        if (sr.end - sr.p < 8) return FALLBACK;
        memcpy(&value, sr.p, 8);
        sr.p += 8;
      } else if (st == 0x10) {
        if (!rd_varint(&sr, &ts)) return FALLBACK;
      } else if (!rd_skip(&sr, st)) {
        return FALLBACK;
      }
    }
    if (!write) {
      int64_t ms = (int64_t)ts;
      if (ms < 0 || ms > MAX_FAST_MS || ((value >= 1e21 || value <= -1e21) && !__builtin_isinf(value))) return FALLBACK;
      continue;
    }
    c->samples++;
    if (table < 0) continue; /* dropped series: counted, not written */
    if (t == NULL && (t = table_out(c, (uint32_t)table)) == NULL) return FALLBACK;
    int64_t ms = (int64_t)ts;
    if (ms < 0 || ms > MAX_FAST_MS) return FALLBACK;
    if (!table_reserve(t, 24 + mid_len + 34)) return FALLBACK;
    uint8_t *o = put_timestamp(c, t->buf + t->len, ms);
    memcpy(o, mid, mid_len);
    o = put_value(o + mid_len, value);
    if (o == NULL) return FALLBACK;
    *o++ = '\n';
    t->len = (size_t)(o - t->buf);
    t->rows++;
    c->rows++;
  }
  return OK;
}

/* Rows of one scanned series: cache lookup (or `prepare` and insert), then one row per sample. */
static int write_series(Ctx *c, Call *call, const SeriesRef *ref) {
  const uint8_t *key = ref->key;
  size_t key_len = ref->key_len;
  int64_t entry = cache_find(c, key, key_len, ref->hash);
  const uint8_t *mid;
  size_t mid_len;
  int32_t table;
  if (entry >= 0) {
    const int32_t *slot = c->slots + entry;
    table = slot[S_TABLE];
    mid = c->arena + slot[S_KEY_AT] + slot[S_KEY_LEN];
    mid_len = (size_t)slot[S_MID_LEN];
    if (table < 0) c->dropped_series++;
  } else if (series_rows(c, ref, -1, NULL, 0, 0) != OK) {
    /* Before a new series is prepared its data must be known good: TypeScript reports a broken
     * sample before the series' labels, so the whole request goes to it (the error is its). */
    return FALLBACK;
  } else if (prepare_in_c(c, key, key_len, &mid, &mid_len, &table)) {
    c->prepared_c++;
    cache_insert(c, key, key_len, mid, mid_len, table);
  } else {
    napi_value args[2], result, global;
    napi_get_global(call->env, &global);
    napi_create_int32(call->env, (int32_t)(key - call->base), &args[0]);
    napi_create_int32(call->env, (int32_t)(key + key_len - call->base), &args[1]);
    if (napi_call_function(call->env, global, call->prepare, 2, args, &result) != napi_ok) return ERR;
    table = call->io[0];
    mid_len = (size_t)(table < 0 ? 0 : call->io[1]);
    void *data = NULL;
    size_t data_len = 0;
    if (table >= 0 && (napi_get_buffer_info(call->env, result, &data, &data_len) != napi_ok || data_len < mid_len)) {
      napi_throw_error(call->env, NULL, "prepare must return the buffer holding the series' middle");
      return ERR;
    }
    mid = data;
    tmap_learn(c, table);
    cache_insert(c, key, key_len, mid, mid_len, table);
  }
  return series_rows(c, ref, table, mid, mid_len, 1);
}

/* How many series ahead `prefetch_entry` runs: enough to cover a memory round trip. */
#define PREFETCH_AHEAD 4
#define SLOT_PREFETCH_AHEAD 16

/* The whole request: scan every series (hashing and prefetching slots), then write them. */
static int encode_request(Ctx *c, Call *call, const uint8_t *req, size_t req_len) {
  size_t n = 0;
  Rd r = {req, req + req_len};
  while (r.p < r.end) {
    uint32_t tag;
    if (!rd_tag(&r, &tag)) return FALLBACK;
    if (tag != 0x0a) {
      if (!rd_skip(&r, tag)) return FALLBACK;
      continue;
    }
    size_t len;
    if (!rd_len(&r, &len)) return FALLBACK;
    if (!RESERVE(c->series, c->series_cap, n + 1, 4096)) return FALLBACK;
    if (scan_series(r.p, r.p + len, &c->series[n]) != OK) return FALLBACK;
    __builtin_prefetch(c->slots + (size_t)slot_of(c->series[n].hash, c->mask) * SLOT);
    n++;
    r.p += len;
  }
  for (size_t i = 0; i < n; i++) {
    /* The scan's slot prefetches are gone from the CPU caches by now in a request of thousands
     * of series: fetch the slot again further ahead, so that prefetch_entry finds it there. */
    if (i + SLOT_PREFETCH_AHEAD < n) __builtin_prefetch(c->slots + (size_t)slot_of(c->series[i + SLOT_PREFETCH_AHEAD].hash, c->mask) * SLOT);
    if (i + PREFETCH_AHEAD < n) prefetch_entry(c, &c->series[i + PREFETCH_AHEAD]);
    int status = write_series(c, call, &c->series[i]);
    if (status != OK) return status;
  }
  return OK;
}

/* ---- WAL block compression: snappy blocks, matched at token boundaries ----
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

/* v as 4 big-endian bytes at o (WAL frame lengths, block row counts). */
static inline void put_u32be(uint8_t *o, uint32_t v) {
  o[0] = (uint8_t)(v >> 24);
  o[1] = (uint8_t)(v >> 16);
  o[2] = (uint8_t)(v >> 8);
  o[3] = (uint8_t)v;
}

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

/* ---- N-API glue ---- */

/* ---- remote write 2.0, rewritten as 1.0 ----
 *
 * A 2.0 request (`io.prometheus.write.v2.Request`) names labels by reference into a symbol
 * table. `transcode_v2` rewrites it as the 1.0 request with the same series, labels in the same
 * order and samples byte for byte, so that the 1.0 path above (cache, new series, rows) serves
 * 2.0 too, and a series has the same cache key whichever protocol sent it. What is dropped is
 * what the TypeScript 2.0 decoder ignores (metadata, created timestamps, unknown fields);
 * exemplars, which are only counted, become empty 1.0 exemplars.
 *
 * Like the rest of this file it is a fast path, not a judge: anything the TypeScript decoder
 * (src/prom/remote-write-v2.ts) might refuse or treat specially — symbols[0] not empty, a
 * reference out of range or an odd number of them, a series without labels, native histograms,
 * unusual protobuf — is FALLBACK, and the caller decodes the original request in TypeScript.
 */

/* The largest 1.0 form `transcodeV2` builds; larger requests are decoded in TypeScript. */
#define TRANSCODE_MAX_BYTES (256u << 20)

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

/* The bytes of a 1.0 Label message (name, then value, both written), given their lengths. */
static inline size_t label_inner_len(uint32_t nl, uint32_t vl) { return 1 + varint_len(nl) + nl + 1 + varint_len(vl) + vl; }

/* The 1.0 bytes of one label as a TimeSeries field: tag, length, Label message. */
static inline size_t label_field_len(uint32_t nl, uint32_t vl) {
  size_t inner = label_inner_len(nl, vl);
  return 1 + varint_len(inner) + inner;
}

/* Appends one label reference (a varint below `nsyms`) to c->refs. */
static inline int take_ref(Ctx *c, Rd *r, uint32_t nsyms, size_t *n) {
  uint64_t ref;
  if (!rd_varint(r, &ref) || ref >= nsyms || !RESERVE(c->refs, c->refs_cap, *n + 1, 1024)) return 0;
  c->refs[(*n)++] = (uint32_t)ref;
  return 1;
}

/*
 * One 2.0 TimeSeries in [s, e): its label references into c->refs (*nrefs), the bytes of its
 * 1.0 form's fields (*body), and where its first Sample or Exemplar field is (*data, or NULL).
 */
static int scan_series_v2(Ctx *c, uint32_t nsyms, const uint8_t *s, const uint8_t *e, size_t *nrefs, uint64_t *body, const uint8_t **data) {
  Rd r = {s, e};
  size_t n = 0;
  uint64_t bytes = 0;
  *data = NULL;
  while (r.p < r.end) {
    const uint8_t *at = r.p;
    uint32_t tag;
    if (!rd_tag(&r, &tag)) return FALLBACK;
    if (tag == 0x0a) { /* 1 labels_refs, packed */
      size_t len;
      if (!rd_len(&r, &len)) return FALLBACK;
      Rd run = {r.p, r.p + len};
      r.p += len;
      while (run.p < run.end)
        if (!take_ref(c, &run, nsyms, &n)) return FALLBACK;
    } else if (tag == 0x08) { /* 1 labels_refs, one unpacked element */
      if (!take_ref(c, &r, nsyms, &n)) return FALLBACK;
    } else if (tag == 0x12 || tag == 0x22) { /* 2 samples (copied as they are), 4 exemplars (counted) */
      if (*data == NULL) *data = at;
      if (!rd_skip(&r, tag)) return FALLBACK;
      bytes += tag == 0x12 ? (uint64_t)(r.p - at) : 2;
    } else {
      if (tag == 0x1a) return FALLBACK; /* 3 native histograms: the TypeScript path */
      if (!rd_skip(&r, tag)) return FALLBACK; /* metadata, created timestamp, unknown fields */
    }
  }
  if (n == 0 || n % 2 != 0) return FALLBACK; /* the TypeScript decoder words these errors */
  for (size_t k = 0; k < n; k += 2) {
    const uint32_t *name = c->syms + 2 * (size_t)c->refs[k], *value = c->syms + 2 * (size_t)c->refs[k + 1];
    bytes += label_field_len(name[1], value[1]);
  }
  *nrefs = n;
  *body = bytes;
  return OK;
}

/*
 * `req` (2.0) as a 1.0 WriteRequest into out[0, cap): returns its length, which may be more than
 * `cap` (then only the length is right: call again with room), or -1 for FALLBACK. A request
 * whose 1.0 form would be over `limit` bytes (a large symbol referenced many times) is FALLBACK.
 */
static int64_t transcode_v2(Ctx *c, const uint8_t *req, size_t req_len, uint8_t *out, size_t cap, uint64_t limit) {
  if (req_len > UINT32_MAX) return -1; /* symbol offsets are 32-bit */
  /* Pass 1: the symbols (4), wherever they are. */
  uint32_t nsyms = 0;
  const uint8_t *first_series = NULL;
  Rd r = {req, req + req_len};
  while (r.p < r.end) {
    const uint8_t *at = r.p;
    uint32_t tag;
    if (!rd_tag(&r, &tag)) return -1;
    if (tag == 0x22) {
      size_t len;
      if (!rd_len(&r, &len) || nsyms == UINT32_MAX / 2 || !RESERVE(c->syms, c->syms_cap, 2 * (size_t)nsyms + 2, 1024)) return -1;
      c->syms[2 * nsyms] = (uint32_t)(r.p - req);
      c->syms[2 * nsyms + 1] = (uint32_t)len;
      nsyms++;
      r.p += len;
    } else {
      if (tag == 0x2a && first_series == NULL) first_series = at;
      if (!rd_skip(&r, tag)) return -1;
    }
  }
  if (nsyms > 0 && c->syms[1] != 0) return -1; /* symbols[0] must be "" */
  if (first_series == NULL) return 0;

  /* Pass 2: each series (5), sized, then written when it fits. */
  uint64_t total = 0;
  r.p = first_series;
  while (r.p < r.end) {
    uint32_t tag;
    size_t len, nrefs;
    uint64_t body;
    const uint8_t *data;
    if (!rd_tag(&r, &tag)) return -1;
    if (tag != 0x2a) {
      if (!rd_skip(&r, tag)) return -1;
      continue;
    }
    if (!rd_len(&r, &len)) return -1;
    const uint8_t *s = r.p, *e = r.p + len;
    r.p = e;
    if (scan_series_v2(c, nsyms, s, e, &nrefs, &body, &data) != OK) return -1;
    uint64_t field = 1 + varint_len(body) + body;
    if (total + field > limit) return -1;
    if (total + field <= cap) {
      uint8_t *o = out + total;
      *o++ = 0x0a; /* 1 timeseries */
      o = put_varint(o, body);
      for (size_t k = 0; k < nrefs; k += 2) {
        const uint32_t *name = c->syms + 2 * (size_t)c->refs[k], *value = c->syms + 2 * (size_t)c->refs[k + 1];
        *o++ = 0x0a; /* 1 labels */
        o = put_varint(o, label_inner_len(name[1], value[1]));
        *o++ = 0x0a; /* 1 name */
        o = put_varint(o, name[1]);
        memcpy(o, req + name[0], name[1]);
        o += name[1];
        *o++ = 0x12; /* 2 value, written even when empty: the form collect_labels reads */
        o = put_varint(o, value[1]);
        memcpy(o, req + value[0], value[1]);
        o += value[1];
      }
      Rd d = {data == NULL ? e : data, e};
      while (d.p < d.end) {
        const uint8_t *at = d.p;
        uint32_t t = 0;
        rd_tag(&d, &t);
        rd_skip(&d, t); /* (both checked by scan_series_v2) */
        if (t == 0x12) {
          memcpy(o, at, (size_t)(d.p - at)); /* 2 samples: the same Sample message in 1.0 */
          o += d.p - at;
        } else if (t == 0x22) {
          *o++ = 0x1a; /* 3 exemplars, empty: only counted */
          *o++ = 0x00;
        }
      }
    }
    total += field;
  }
  return (int64_t)total;
}

static void ctx_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Ctx *c = data;
  for (uint32_t i = 0; i < c->ntables; i++) free(c->tables[i].buf);
  free(c->tables);
  free(c->touched);
  free(c->series);
  free(c->slots);
  free(c->arena);
  free(c->labels);
  free(c->mid);
  free(c->id_input);
  free(c->tmap);
  free(c->tmap_arena);
  free(c->syms);
  free(c->refs);
  free(c->head);
  free(c->marks);
  rules_free(c->rules);
  free(c);
}

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "adx_native: bad arguments to " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static Ctx *ctx_arg(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "adx_native: expected a context");
    return NULL;
  }
  return data;
}

/* The arguments of a call whose first is a context: fills argv[0, n) (undefined past those given). */
static Ctx *ctx_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "adx_native: bad arguments");
    return NULL;
  }
  return ctx_arg(env, argv[0]);
}

/* The data of a typed array argument of `type` with at least `min_len` elements; NULL (and a
 * pending TypeError naming `what`) otherwise. */
static void *typed_arg(napi_env env, napi_value v, napi_typedarray_type type, size_t min_len, size_t *len, const char *what) {
  napi_typedarray_type actual;
  napi_value ab;
  size_t offset, n;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &actual, &n, &p, &ab, &offset) != napi_ok || actual != type || n < min_len) {
    char msg[160];
    snprintf(msg, sizeof msg, "adx_native: %s", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  if (len != NULL) *len = n;
  return p == NULL ? (void *)"" : p; /* an empty array may have no data pointer */
}

/* A number property of `obj` in 1..2^31-1, or 0 (and a pending TypeError). */
static uint32_t rule_number(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  double d;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_get_value_double(env, v, &d) != napi_ok || !(d >= 1) || d > 2147483647.0) {
    char msg[120];
    snprintf(msg, sizeof msg, "adx_native: rules.%s must be a number from 1 to 2^31-1", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return (uint32_t)d;
}

/* rules[name]: an array of Uint8Array, copied into `out`; 0 (and a pending exception) otherwise. */
static int bytes_arg(napi_env env, napi_value obj, const char *name, Bytes *out) {
  napi_value list;
  bool is_array = false;
  uint32_t n = 0;
  char msg[120];
  snprintf(msg, sizeof msg, "adx_native: rules.%s must be an array of Uint8Array", name);
  if (napi_get_named_property(env, obj, name, &list) != napi_ok || napi_is_array(env, list, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, list, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  out->at = calloc(n ? n : 1, sizeof(uint8_t *));
  out->len = calloc(n ? n : 1, sizeof(uint32_t));
  if (out->at == NULL || out->len == NULL) {
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len;
    if (napi_get_element(env, list, i, &item) != napi_ok) return 0;
    const uint8_t *bytes = typed_arg(env, item, napi_uint8_array, 0, &len, msg + 12);
    if (bytes == NULL) return 0;
    if ((out->at[i] = malloc(len ? len : 1)) == NULL) {
      napi_throw_error(env, NULL, "adx_native: out of memory");
      return 0;
    }
    memcpy(out->at[i], bytes, len);
    out->len[i] = (uint32_t)len;
    out->n = i + 1;
  }
  return 1;
}

/* rules { maxLabelBytes, maxLabelsPerSeries, lifted, addNames, addValues: Uint8Array[] } → Rules. */
static Rules *rules_arg(napi_env env, napi_value obj) {
  Rules *rules = calloc(1, sizeof(Rules));
  if (rules == NULL) {
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return NULL;
  }
  if ((rules->max_label_bytes = rule_number(env, obj, "maxLabelBytes")) == 0 || (rules->max_labels = rule_number(env, obj, "maxLabelsPerSeries")) == 0 ||
      !bytes_arg(env, obj, "lifted", &rules->lifted) || !bytes_arg(env, obj, "addNames", &rules->add_names) || !bytes_arg(env, obj, "addValues", &rules->add_values)) {
    rules_free(rules);
    return NULL;
  }
  if (rules->add_names.n != rules->add_values.n) {
    napi_throw_type_error(env, NULL, "adx_native: rules.addNames and rules.addValues must have the same length");
    rules_free(rules);
    return NULL;
  }
  return rules;
}

/* create(arenaBytes, rules?) → context; with `rules`, new series are prepared in C when they can be. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  double arena_bytes;
  napi_valuetype rules_type = napi_undefined;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_double(env, argv[0], &arena_bytes));
  if (!(arena_bytes >= 0) || arena_bytes > 2147483647.0) {
    napi_throw_range_error(env, NULL, "adx_native: arena size must be 0..2^31-1 bytes");
    return NULL;
  }
  if (argc >= 2) CHECK(napi_typeof(env, argv[1], &rules_type));
  Rules *rules = NULL;
  if (rules_type != napi_undefined && (rules = rules_arg(env, argv[1])) == NULL) return NULL;
  Ctx *c = calloc(1, sizeof(Ctx));
  size_t size = arena_bytes < 4096 ? 4096 : (size_t)arena_bytes;
  uint32_t slots = 1024;
  while ((double)slots < 2 * (double)size / BYTES_PER_ENTRY) slots *= 2;
  uint32_t initial = slots < INITIAL_SLOTS ? slots : INITIAL_SLOTS;
  if (c != NULL) {
    c->arena = malloc(size); /* pages become resident as the cache fills */
    c->slots = calloc((size_t)initial * SLOT, sizeof(int32_t));
  }
  if (c == NULL || c->arena == NULL || c->slots == NULL) {
    if (c != NULL) {
      free(c->arena);
      free(c->slots);
      free(c);
    }
    rules_free(rules);
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return NULL;
  }
  c->rules = rules;
  c->arena_size = size;
  c->max_slots = slots;
  c->mask = initial - 1;
  c->generation = 1;
  c->miss_slot = -1;
  c->cached_second = -1;
  CHECK(napi_create_external(env, c, ctx_finalize, NULL, &out));
  return out;
}

/*
 * encodeV1(ctx, request: Uint8Array, prepare, io: Int32Array, counters: Float64Array) → 0 | 1
 * 0: done; counters = [samples, rows, exemplars, droppedSeries(hits only), tables touched (after
 * keepRows: bytes held for frameTables, all requests)].
 * 1: FALLBACK, nothing to take. A JS exception from `prepare` propagates.
 */
static napi_value js_encode_v1(napi_env env, napi_callback_info info) {
  napi_value argv[5], out;
  Ctx *c = ctx_call(env, info, 5, argv);
  if (c == NULL) return NULL;
  size_t req_len;
  const uint8_t *req = typed_arg(env, argv[1], napi_uint8_array, 0, &req_len, "request must be a Uint8Array");
  int32_t *io = req ? typed_arg(env, argv[3], napi_int32_array, 2, NULL, "io must be an Int32Array(2)") : NULL;
  double *counters = io ? typed_arg(env, argv[4], napi_float64_array, 5, NULL, "counters must be a Float64Array(5)") : NULL;
  if (counters == NULL) return NULL;
  Call call = {env, argv[2], io, req};
  const int keep = c->head_len > 0;
  if (keep) begin_kept_request(c);
  else reset_request(c);
  int status = encode_request(c, &call, req, req_len);
  if (status != OK && keep) rollback_kept_request(c);
  if (status == ERR) return NULL;
  if (status == FALLBACK && !keep) reset_request(c);
  counters[0] = c->samples;
  counters[1] = c->rows;
  counters[2] = c->exemplars;
  counters[3] = c->dropped_series;
  counters[4] = keep ? kept_bytes(c) : c->ntouched;
  CHECK(napi_create_int32(env, status, &out));
  return out;
}

/*
 * transcodeV2(ctx, request: Uint8Array, out: Uint8Array) → n
 * n ≥ 0: the 2.0 request as 1.0 is n bytes, in out[0, n) when n ≤ out.length (else call again
 * with room); -1: FALLBACK, decode the 2.0 request in TypeScript.
 */
static napi_value js_transcode_v2(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  Ctx *c = ctx_call(env, info, 3, argv);
  if (c == NULL) return NULL;
  size_t req_len, cap;
  const uint8_t *req = typed_arg(env, argv[1], napi_uint8_array, 0, &req_len, "request must be a Uint8Array");
  uint8_t *dest = req ? typed_arg(env, argv[2], napi_uint8_array, 0, &cap, "out must be a Uint8Array") : NULL;
  if (dest == NULL) return NULL;
  /* A 1.0 form far larger than the request means symbols referenced over and over: TypeScript's
   * limits judge those, without a buffer that size. (loadgen's 2.0 requests grow ~4.8x.) */
  uint64_t limit = 16 * (uint64_t)req_len + (1u << 20);
  if (limit > TRANSCODE_MAX_BYTES) limit = TRANSCODE_MAX_BYTES;
  CHECK(napi_create_double(env, (double)transcode_v2(c, req, req_len, dest, cap, limit), &out));
  return out;
}

/* tableInfo(ctx, out: Int32Array) → n; out = [tableId, bytes, rows] × n (after a 0 from encodeV1) */
static napi_value js_table_info(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  Ctx *c = ctx_call(env, info, 2, argv);
  if (c == NULL) return NULL;
  int32_t *o = typed_arg(env, argv[1], napi_int32_array, (size_t)c->ntouched * 3, NULL, "tableInfo needs an Int32Array of 3 per table");
  if (o == NULL) return NULL;
  for (uint32_t i = 0; i < c->ntouched; i++) {
    const TableOut *t = &c->tables[c->touched[i]];
    o[3 * i] = c->touched[i];
    o[3 * i + 1] = (int32_t)t->len;
    o[3 * i + 2] = (int32_t)t->rows;
  }
  CHECK(napi_create_uint32(env, c->ntouched, &out));
  return out;
}

/* copyTable(ctx, tableId, dest: Uint8Array, at) → bytes copied */
static napi_value js_copy_table(napi_env env, napi_callback_info info) {
  napi_value argv[4], out;
  Ctx *c = ctx_call(env, info, 4, argv);
  if (c == NULL) return NULL;
  int32_t id, at;
  size_t dest_len;
  CHECK(napi_get_value_int32(env, argv[1], &id));
  uint8_t *dest = typed_arg(env, argv[2], napi_uint8_array, 0, &dest_len, "copyTable needs a Uint8Array");
  if (dest == NULL) return NULL;
  CHECK(napi_get_value_int32(env, argv[3], &at));
  if (id < 0 || (uint32_t)id >= c->ntables || !c->tables[id].touched) {
    napi_throw_range_error(env, NULL, "adx_native: no output for that table");
    return NULL;
  }
  const TableOut *t = &c->tables[id];
  if (at < 0 || (size_t)at + t->len > dest_len) {
    napi_throw_range_error(env, NULL, "adx_native: destination too small");
    return NULL;
  }
  memcpy(dest + at, t->buf, t->len);
  CHECK(napi_create_uint32(env, (uint32_t)t->len, &out));
  return out;
}

/*
 * keepRows(ctx, head: Uint8Array): from now on the context holds rows across requests, for the
 * WAL writer's group commit, instead of handing each request's tables out with copyTable. Each
 * table's block starts with `head` (the WAL block header with a zero count, then the CSV header
 * line); a request's rows are added to the blocks of its tables, and taken back if the request
 * falls back or `prepare` throws. frameTables compresses every held block into WAL frames at
 * once. With many tables and few rows each, the per-table, per-request copies and objects in
 * JavaScript were most of the cost (loadgen, 1000 tables: 2 rows per table per request).
 */
static napi_value js_keep_rows(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Ctx *c = ctx_call(env, info, 2, argv);
  if (c == NULL) return NULL;
  size_t len;
  const uint8_t *head = typed_arg(env, argv[1], napi_uint8_array, 8, &len, "keepRows needs head: a Uint8Array of at least the 8-byte block header");
  if (head == NULL) return NULL;
  if (c->ntouched > 0) {
    napi_throw_error(env, NULL, "adx_native: keepRows with rows held");
    return NULL;
  }
  uint8_t *copy = malloc(len);
  if (copy == NULL) {
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return NULL;
  }
  memcpy(copy, head, len);
  free(c->head);
  c->head = copy;
  c->head_len = len;
  return NULL;
}

/*
 * frameTables(ctx, out: Uint8Array, info: Int32Array) → n, or −(bytes `out` needs)
 * After keepRows: the WAL frame (docs/wal-format.md: length u32 BE, 4 bytes left for the CRC,
 * the snappy block) of each held table's block, its row count written into the block header,
 * back to back in out; info = [tableId, offset, length, rows] × n (4 per table: size it from
 * the table ids given out). The rows are let go of; with −needed nothing changes.
 */
static napi_value js_frame_tables(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  Ctx *c = ctx_call(env, info, 3, argv);
  if (c == NULL) return NULL;
  size_t out_len, need = 0;
  uint8_t *out = typed_arg(env, argv[1], napi_uint8_array, 0, &out_len, "frameTables needs out: Uint8Array");
  int32_t *o = out ? typed_arg(env, argv[2], napi_int32_array, (size_t)c->ntouched * 4, NULL, "frameTables needs info: an Int32Array of 4 per held table") : NULL;
  if (o == NULL) return NULL;
  if (c->head_len == 0) {
    napi_throw_error(env, NULL, "adx_native: frameTables without keepRows");
    return NULL;
  }
  for (uint32_t i = 0; i < c->ntouched; i++) need += 8 + lz_max_compressed(c->tables[c->touched[i]].len);
  if (need > 0x7fffffffu) {
    napi_throw_range_error(env, NULL, "adx_native: frameTables: more held than one buffer takes");
    return NULL;
  }
  if (out_len < need) {
    CHECK(napi_create_double(env, -(double)need, &result));
    return result;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < c->ntouched; i++) {
    TableOut *t = &c->tables[c->touched[i]];
    put_u32be(t->buf + 4, t->rows); /* the block header's row count */
    size_t written = compress_block(t->buf, t->len, out + at + 8);
    put_u32be(out + at, (uint32_t)written);
    memset(out + at + 4, 0, 4);
    o[4 * i] = c->touched[i];
    o[4 * i + 1] = (int32_t)at;
    o[4 * i + 2] = (int32_t)(8 + written);
    o[4 * i + 3] = (int32_t)t->rows;
    at += 8 + written;
    t->touched = 0;
  }
  uint32_t n = c->ntouched;
  c->ntouched = 0;
  CHECK(napi_create_uint32(env, n, &result));
  return result;
}

/* stats(ctx, out: Float64Array) → out = [hits, misses, entries, arenaUsed, (if room) new series
 * prepared in C (the other misses went to JavaScript's `prepare`)] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Ctx *c = ctx_arg(env, argv[0]);
  if (c == NULL) return NULL;
  size_t len;
  double *o = typed_arg(env, argv[1], napi_float64_array, 4, &len, "stats needs a Float64Array(4)");
  if (o == NULL) return NULL;
  o[0] = c->hits;
  o[1] = c->misses;
  o[2] = c->entries;
  o[3] = (double)c->arena_used;
  if (len >= 5) o[4] = c->prepared_c;
  return NULL;
}

/* formatValue(v: number, out: Uint8Array) → bytes written, or -1 (|v| ≥ 1e21): for tests. */
static napi_value js_format_value(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  double v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_double(env, argv[0], &v));
  uint8_t *dest = typed_arg(env, argv[1], napi_uint8_array, 40, NULL, "formatValue needs a Uint8Array of 40 bytes");
  if (dest == NULL) return NULL;
  uint8_t *end = put_value(dest, v);
  CHECK(napi_create_int32(env, end == NULL ? -1 : (int32_t)(end - dest), &out));
  return out;
}

/* The (fd, offset, length) arguments of a call on a file range; false (a TypeError thrown) unless all are non-negative numbers. */
static int range_args(napi_env env, napi_callback_info info, const char *name, int32_t *fd, int64_t *offset, int64_t *length) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_get_value_int32(env, argv[0], fd) != napi_ok ||
      napi_get_value_int64(env, argv[1], offset) != napi_ok || napi_get_value_int64(env, argv[2], length) != napi_ok || *fd < 0 || *offset < 0 ||
      *length < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s needs (fd, offset, length) as non-negative numbers", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/*
 * startWriteback(fd, offset, length) → 0 or an errno: asks the kernel to start writing that
 * range of the file to disk now (sync_file_range SYNC_FILE_RANGE_WRITE), without waiting for it
 * and without a journal commit. The WAL calls it every few MiB so that dirty pages leave in
 * small steady steps instead of the kernel's 30-second bursts of a gigabyte. Not a durability
 * promise: that is what fdatasync (--wal-fsync) is for.
 */
static napi_value js_start_writeback(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, "startWriteback", &fd, &offset, &length)) return NULL;
  int rc = length == 0 ? 0 : sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
  napi_value out;
  CHECK(napi_create_int32(env, rc == 0 ? 0 : errno, &out));
  return out;
}

/*
 * dropCache(fd, offset, length) → 0 or an errno: posix_fadvise POSIX_FADV_DONTNEED on that range.
 * The WAL calls it on ranges whose writeback it started a round earlier: clean pages leave the
 * page cache at once (pages still dirty or under writeback are skipped and age out as usual), so
 * the WAL reuses a few MiB of hot pages instead of taking ever new ones (see WalWriter).
 */
static napi_value js_drop_cache(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, "dropCache", &fd, &offset, &length)) return NULL;
  int rc = length == 0 ? 0 : posix_fadvise(fd, offset, length, POSIX_FADV_DONTNEED);
  napi_value out;
  CHECK(napi_create_int32(env, rc, &out));
  return out;
}

/*
 * compressBlock(pieces, skip, out) → frame length, or −(bytes `out` needs): the WAL frame
 * (docs/wal-format.md) of one block into out[0, n): payload length u32 BE, 4 bytes left for the
 * CRC (the caller's zlib.crc32 is faster than a table here), then the snappy block
 * (`compress_block`) of pieces[0] followed by pieces[1..] without their first `skip` bytes (the
 * reserved block header and CSV header line each piece starts with). This is the group-commit
 * flush of one table (src/wal/wal-writer.ts); several pieces are gathered in a per-thread buffer.
 */
typedef struct {
  uint8_t *buf;
  size_t cap;
} Scratch;

static void scratch_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Scratch *s = data;
  free(s->buf);
  free(s);
}

/* Piece i of `list`: a Uint8Array, after the first without its first `skip` bytes; NULL with a pending TypeError otherwise. */
static const uint8_t *piece_arg(napi_env env, napi_value list, uint32_t i, uint32_t skip, size_t *len) {
  napi_value item;
  if (napi_get_element(env, list, i, &item) != napi_ok) return NULL;
  const uint8_t *p = typed_arg(env, item, napi_uint8_array, i == 0 ? 0 : skip, len, "compressBlock: pieces must be Uint8Arrays, all but the first at least `skip` bytes long");
  if (p == NULL || i == 0) return p;
  *len -= skip;
  return p + skip;
}

static napi_value js_compress_block(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  bool is_array = false;
  uint32_t n = 0, skip = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &n) != napi_ok || n == 0 || napi_get_value_uint32(env, argv[1], &skip) != napi_ok) {
    napi_throw_type_error(env, NULL, "adx_native: compressBlock needs (pieces: a non-empty Uint8Array[], skip: number, out: Uint8Array)");
    return NULL;
  }
  size_t out_len, len, total = 0;
  uint8_t *out = typed_arg(env, argv[2], napi_uint8_array, 0, &out_len, "compressBlock needs out: Uint8Array");
  if (out == NULL) return NULL;
  const uint8_t *src = NULL;
  for (uint32_t i = 0; i < n; i++) {
    if ((src = piece_arg(env, argv[0], i, skip, &len)) == NULL) return NULL;
    total += len;
  }
  size_t room = 8 + lz_max_compressed(total);
  if (room > 0xffffffffu) {
    napi_throw_range_error(env, NULL, "adx_native: compressBlock: block too large for one frame");
    return NULL;
  }
  if (out_len < room) {
    CHECK(napi_create_double(env, -(double)room, &result));
    return result;
  }
  if (n > 1) {
    Scratch *scratch = NULL;
    CHECK(napi_get_instance_data(env, (void **)&scratch));
    if (scratch == NULL || !RESERVE(scratch->buf, scratch->cap, total, (size_t)1 << 20)) {
      napi_throw_error(env, NULL, "adx_native: out of memory");
      return NULL;
    }
    uint8_t *o = scratch->buf;
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t *p = piece_arg(env, argv[0], i, skip, &len);
      if (p == NULL) return NULL;
      memcpy(o, p, len);
      o += len;
    }
    src = scratch->buf;
  }
  size_t written = compress_block(src, total, out + 8);
  put_u32be(out, (uint32_t)written);
  memset(out + 4, 0, 4);
  CHECK(napi_create_double(env, (double)(8 + written), &result));
  return result;
}

/*
 * uncompress(block, out) → decoded length, or -1: the snappy block `block` decoded into `out`
 * (`uncompress_block`). The caller sizes `out` from the block's length preamble, which it checks
 * against its limit first.
 */
static napi_value js_uncompress(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t in_len, out_len;
  const char *usage = "uncompress needs (block: Uint8Array, out: Uint8Array)";
  const uint8_t *in = typed_arg(env, argv[0], napi_uint8_array, 0, &in_len, usage);
  uint8_t *out = in == NULL ? NULL : typed_arg(env, argv[1], napi_uint8_array, 0, &out_len, usage);
  if (out == NULL) return NULL;
  CHECK(napi_create_double(env, (double)uncompress_block(in, in_len, out, out_len), &result));
  return result;
}

/*
 * The calls and their meaning as src/transform/native-hot-path.ts expects them
 * (NATIVE_API_VERSION there): bump both together whenever a call is added or changes. A stale
 * build of this file is then refused at start-up instead of failing at the first call it lacks.
 */
#define API_VERSION 3

NAPI_MODULE_INIT() {
  napi_value api_version;
  if (napi_create_uint32(env, API_VERSION, &api_version) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"apiVersion", NULL, NULL, NULL, NULL, api_version, napi_enumerable, NULL},
      {"create", NULL, js_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"encodeV1", NULL, js_encode_v1, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transcodeV2", NULL, js_transcode_v2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tableInfo", NULL, js_table_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyTable", NULL, js_copy_table, NULL, NULL, NULL, napi_enumerable, NULL},
      {"keepRows", NULL, js_keep_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"frameTables", NULL, js_frame_tables, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"formatValue", NULL, js_format_value, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startWriteback", NULL, js_start_writeback, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropCache", NULL, js_drop_cache, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressBlock", NULL, js_compress_block, NULL, NULL, NULL, napi_enumerable, NULL},
      {"uncompress", NULL, js_uncompress, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  /* compressBlock's gather buffer: one per thread (each worker thread is its own env). */
  Scratch *scratch = calloc(1, sizeof(Scratch));
  if (scratch == NULL || napi_set_instance_data(env, scratch, scratch_free, NULL) != napi_ok) {
    free(scratch);
    return NULL;
  }
  return exports;
}
