/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * Per-table output: each table's rows of a request, or held across requests after keepRows.
 */
#pragma once

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
