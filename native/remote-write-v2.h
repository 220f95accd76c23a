/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 *
 * Remote write 2.0, rewritten as 1.0.
 *
 * A 2.0 request (`io.prometheus.write.v2.Request`) names labels by reference into a symbol
 * table. `transcode_v2` rewrites it as the 1.0 request with the same series, labels in the same
 * order and samples byte for byte, so that the 1.0 path (cache, new series, rows) serves
 * 2.0 too, and a series has the same cache key whichever protocol sent it. What is dropped is
 * what the TypeScript 2.0 decoder ignores (metadata, created timestamps, unknown fields);
 * exemplars, which are only counted, become empty 1.0 exemplars.
 *
 * Like the rest of this file it is a fast path, not a judge: anything the TypeScript decoder
 * (src/prom/remote-write-v2.ts) might refuse or treat specially — symbols[0] not empty, a
 * reference out of range or an odd number of them, a series without labels, native histograms,
 * unusual protobuf — is FALLBACK, and the caller decodes the original request in TypeScript.
 */
#pragma once

/* The largest 1.0 form `transcodeV2` builds; larger requests are decoded in TypeScript. */
#define TRANSCODE_MAX_BYTES (256u << 20)

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
