/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * The request walk: every series of a 1.0 WriteRequest, looked up or prepared, then its rows.
 */
#pragma once

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
