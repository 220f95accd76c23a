/*
 * adx-ingestor native hot path: remote write 1.0 → metrics CSV rows (2.0 is first rewritten as
 * 1.0 by `transcodeV2`, see remote-write-v2.h).
 *
 * What it does, per request (`encodeV1`): walks the decompressed `prometheus.WriteRequest`,
 * looks every series up in a series cache (key: the encoded bytes of its contiguous Label
 * fields, exactly as src/transform/series-cache.ts), and writes one CSV row per sample —
 * timestamp, the cached constant middle `,SeriesId,lifted...,"{Labels}",`, value, newline —
 * into per-table buffers. A series it has not seen is prepared here when it is plainly valid
 * (see new-series.h); otherwise it is handed to a JavaScript callback (`prepare`), which
 * runs the TypeScript writer's validation and middle-building code. Either way the result is
 * cached here. The TypeScript writer stays the rule book for labels, tables, drops and escaping;
 * the addon does the steady-state work (hash, compare, copy, format) and the happy path of a new
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
 *
 * Layout: this file is the module (the table of calls); the parts below are included in the
 * order they depend on each other and compiled as one translation unit, so the compiler inlines
 * across them as it would within one file. They are not standalone headers.
 *   common.h          system headers, result codes, byte reads and writes, growable arrays
 *   context.h         the per-worker context and its per-table outputs
 *   series-cache.h    the series cache (as src/transform/series-cache.ts)
 *   protobuf.h        the protobuf subset read here
 *   csv-text.h        numbers, timestamps and JSON-in-CSV text
 *   table-output.h    per-table rows, held across requests after keepRows
 *   new-series.h      new series prepared in C: labels, table, SeriesId, the row's middle
 *   request-walk.h    encodeV1's walk over a request
 *   snappy-block.h    WAL block compression and body decompression (snappy blocks)
 *   frame-crc.h       the CRC-32 of a WAL frame
 *   remote-write-v2.h 2.0 requests rewritten as 1.0
 *   napi-args.h, napi-rows.h, napi-wal.h   the Node-API calls and their argument checks
 */

#include "common.h"
#include "context.h"
#include "series-cache.h"
#include "protobuf.h"
#include "csv-text.h"
#include "table-output.h"
#include "new-series.h"
#include "request-walk.h"
#include "snappy-block.h"
#include "frame-crc.h"
#include "remote-write-v2.h"
#include "napi-args.h"
#include "napi-rows.h"
#include "napi-wal.h"

/*
 * The calls and their meaning as src/transform/native-hot-path.ts expects them
 * (NATIVE_API_VERSION there): bump both together whenever a call is added or changes. A stale
 * build of this file is then refused at start-up instead of failing at the first call it lacks.
 */
#define API_VERSION 4

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
      {"writeFrames", NULL, js_write_frames, NULL, NULL, NULL, napi_enumerable, NULL},
      {"frameCrc", NULL, js_frame_crc, NULL, NULL, NULL, napi_enumerable, NULL},
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
