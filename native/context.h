/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * The per-worker context every call works on (`create` makes one per thread), and its per-table
 * outputs.
 */
#pragma once

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

  /* New series prepared here (new-series.h) when `rules` were given to `create`. */
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

  /* Remote write 2.0 (remote-write-v2.h): symbol offsets and one series' references. */
  uint32_t *syms, *refs;
  size_t syms_cap, refs_cap;
} Ctx;
