/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * The calls on WAL files and blocks: startWriteback, dropCache, compressBlock, uncompress.
 */
#pragma once

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
 * (docs/wal-format.md) of one block into out[0, n): payload length u32 BE, the payload's CRC-32
 * u32 BE (frame-crc.h), then the snappy block
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
  put_u32be(out + 4, frame_crc(out + 8, written));
  CHECK(napi_create_double(env, (double)(8 + written), &result));
  return result;
}

/*
 * writeFrames(frames: Uint8Array, plan: Float64Array, n, err: Int32Array) → frames written
 * Writes frame i, frames[at, at + length), at offset `position` of file `fd` (pwrite, finishing
 * short writes, retrying EINTR), for plan = [fd, position, at, length] × n, in order; stops at
 * the first that fails and returns its index with err[0] = errno (n when all were written). That
 * frame may be partly written: the caller cuts the file back. This is the WAL flush of the held
 * tables (src/wal/wal-writer.ts): one call for every table's frame instead of a JavaScript
 * fs.writevSync per frame, which with 1000 tables was ~1000 calls per flush. The frames and the
 * files are the caller's; each range must lie inside `frames`.
 */
static napi_value js_write_frames(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  uint32_t n = 0;
  const char *usage = "writeFrames needs (frames: Uint8Array, plan: Float64Array of 4 per frame, n: number, err: Int32Array(1))";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_uint32(env, argv[2], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t frames_len;
  const uint8_t *frames = typed_arg(env, argv[0], napi_uint8_array, 0, &frames_len, usage);
  const double *plan = frames == NULL ? NULL : typed_arg(env, argv[1], napi_float64_array, (size_t)n * 4, NULL, usage);
  int32_t *err = plan == NULL ? NULL : typed_arg(env, argv[3], napi_int32_array, 1, NULL, usage);
  if (err == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    const double *p = plan + 4 * (size_t)i;
    if (!(p[0] >= 0 && p[0] <= 0x7fffffff && p[1] >= 0 && p[1] <= 9007199254740991.0 && p[2] >= 0 && p[3] >= 0 && p[2] + p[3] <= (double)frames_len)) {
      napi_throw_range_error(env, NULL, "adx_native: writeFrames: a frame's fd, position or range is out of bounds");
      return NULL;
    }
  }
  uint32_t i = 0;
  err[0] = 0;
  for (; i < n; i++) {
    const double *p = plan + 4 * (size_t)i;
    const int fd = (int)p[0];
    const off_t position = (off_t)p[1];
    const uint8_t *src = frames + (size_t)p[2];
    size_t left = (size_t)p[3], done = 0;
    while (done < left) {
      ssize_t w = pwrite(fd, src + done, left - done, position + (off_t)done);
      if (w > 0) done += (size_t)w;
      else if (w < 0 && errno == EINTR) continue;
      else {
        err[0] = w < 0 ? errno : EIO; /* 0 bytes written for a non-empty write: give up, as an I/O error */
        break;
      }
    }
    if (done < left) break;
  }
  CHECK(napi_create_uint32(env, i, &result));
  return result;
}

/* frameCrc(bytes: Uint8Array, bytewise: boolean) → the CRC-32 the frames get (bytewise: the table fallback's): for tests. */
static napi_value js_frame_crc(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], result;
  bool bytewise = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const uint8_t *p = typed_arg(env, argv[0], napi_uint8_array, 0, &len, "frameCrc needs (bytes: Uint8Array, bytewise: boolean)");
  if (p == NULL) return NULL;
  if (argc > 1) CHECK(napi_get_value_bool(env, argv[1], &bytewise));
  CHECK(napi_create_uint32(env, bytewise ? crc32_bytewise(p, len) : frame_crc(p, len), &result));
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
