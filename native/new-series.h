/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 *
 * New series, prepared in C (the common case).
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
#pragma once

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
