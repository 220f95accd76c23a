/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * The calls that make rows: create, encodeV1, transcodeV2, tableInfo, copyTable, keepRows,
 * frameTables, stats, formatValue.
 */
#pragma once

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
 * After keepRows: the WAL frame (docs/wal-format.md: length u32 BE, CRC-32 u32 BE of the
 * payload (frame-crc.h), the snappy block) of each held table's block, its row count written into the block header,
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
    put_u32be(out + at + 4, frame_crc(out + at + 8, written));
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
