/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * Text of a CSV row: numbers, timestamps, JSON strings in CSV fields (as
 * src/transform/csv-format.ts).
 */
#pragma once

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
