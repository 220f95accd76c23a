/**
 * Loads the native hot path (native/hotpath.c, built by scripts/build-native.mjs into
 * native/build/adx_native.node): remote write rows (1.0, and 2.0 rewritten as 1.0) written in C.
 * The TypeScript writer stays the reference and the fallback; see MetricsCsvWriter.encodeV1.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WalNativeCalls } from '../wal/wal-writer.js';

/** An opaque per-thread context: the C series cache and per-table outputs. */
export type NativeContext = { readonly __brand: 'adx-native-context' };

/**
 * What C needs to prepare a new series itself (native/new-series.h): the limits, the
 * lifted label names lower-cased in the writer's order, and the labels to add. Without it every
 * new series goes to `prepare`.
 */
export interface NativeSeriesRules {
  maxLabelBytes: number;
  maxLabelsPerSeries: number;
  lifted: readonly Uint8Array[];
  /** `--add-labels`, in order: names and values. */
  addNames: readonly Uint8Array[];
  addValues: readonly Uint8Array[];
}

/**
 * The addon's calls as this build expects them (`API_VERSION` in native/hotpath.c): both change
 * together. A `.node` file left over from an older build is refused when it loads, not at the
 * first call it lacks.
 */
export const NATIVE_API_VERSION = 4;

export interface NativeHotPath {
  /** `NATIVE_API_VERSION` of the source the addon was built from. */
  readonly apiVersion: number;
  create(arenaBytes: number, rules?: NativeSeriesRules): NativeContext;
  /**
   * 0: done, outputs ready (tableInfo / copyTable); 1: fall back to the TypeScript decoder.
   * `prepare(keyStart, keyEnd)` is called for each series not in the cache: it must set
   * io[0] = table id (-1: dropped) and io[1] = middle length, and return the Buffer holding the
   * middle. counters ← [samples, rows, exemplars, dropped series (cache hits), tables].
   */
  encodeV1(
    ctx: NativeContext,
    request: Uint8Array,
    prepare: (keyStart: number, keyEnd: number) => Uint8Array | undefined,
    io: Int32Array,
    counters: Float64Array,
  ): number;
  /**
   * Rewrites a remote write 2.0 request as the 1.0 request with the same series, labels and
   * samples (native/remote-write-v2.h), for `encodeV1`. Returns its length n, in
   * out[0, n) when n ≤ out.length (otherwise call again with room), or -1: decode in TypeScript.
   */
  transcodeV2(ctx: NativeContext, request: Uint8Array, out: Uint8Array): number;
  /** Fills [tableId, bytes, rows] per table of the last encode; returns the table count. */
  tableInfo(ctx: NativeContext, out: Int32Array): number;
  copyTable(ctx: NativeContext, tableId: number, dest: Uint8Array, at: number): number;
  /**
   * From now on the context holds rows across requests (each table's block starting with
   * `head`: the block header, zero count, and the CSV header line) until `frameTables`; a request
   * that falls back or throws takes back what it wrote. encodeV1's counters[4] is then the bytes
   * held. For the WAL writer's group commit (MetricsCsvWriter.keepRowsInNative).
   */
  keepRows(ctx: NativeContext, head: Uint8Array): void;
  /**
   * After `keepRows`: every held table's block as one WAL frame (CRC filled in), back to back in
   * `out`, and info ← [tableId, offset, length, rows] per frame (4 per table id in use); returns
   * the frame count and lets the rows go, or −(bytes `out` needs) and changes nothing.
   */
  frameTables(ctx: NativeContext, out: Uint8Array, info: Int32Array): number;
  /** out ← [hits, misses, entries, arena bytes used, (length ≥ 5:) new series prepared in C rather than by `prepare`]. */
  stats(ctx: NativeContext, out: Float64Array): void;
  /** `formatValue` into `out` (≥ 40 bytes): bytes written, -1 for |v| ≥ 1e21. For tests. */
  formatValue(v: number, out: Uint8Array): number;
  /**
   * sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): starts writing that range to
   * disk without waiting. Returns 0 or the errno. Used by the WAL writer (--wal-writeback).
   */
  startWriteback(fd: number, offset: number, length: number): number;
  /** posix_fadvise(fd, offset, length, POSIX_FADV_DONTNEED): drops the clean pages of that range from the page cache. Returns 0 or the errno. */
  dropCache(fd: number, offset: number, length: number): number;
  /**
   * Decodes the snappy block `block` into `out`: its length, or -1 when it is corrupt, truncated,
   * or declares more than `out` holds or other than it decodes to (`BodyDecompressor`).
   */
  uncompress(block: Uint8Array, out: Uint8Array): number;
  /** One WAL frame from block pieces, snappy-compressed in C: see `CompressBlockCall` (src/wal/format.ts). */
  compressBlock(pieces: Uint8Array[], skip: number, out: Uint8Array): number;
  /** Positional writes of frames to WAL segments, in order: see `WriteFramesCall` (src/wal/wal-writer.ts). */
  writeFrames(frames: Uint8Array, plan: Float64Array, n: number, err: Int32Array): number;
  /** The CRC-32 frames get (Node's zlib `crc32_z`), or with `bytewise` the addon's own table code, used where node lacks it. For tests. */
  frameCrc(bytes: Uint8Array, bytewise: boolean): number;
}

/** The addon's calls the WAL writer uses (whatever --hot-path says: they are WAL plumbing and compression, not rows). */
export function walNativeCalls(addon: NativeHotPath): WalNativeCalls {
  return {
    startWriteback: (fd, offset, length) => addon.startWriteback(fd, offset, length),
    dropCache: (fd, offset, length) => addon.dropCache(fd, offset, length),
    compressBlock: (pieces, skip, out) => addon.compressBlock(pieces, skip, out),
    writeFrames: (frames, plan, n, err) => addon.writeFrames(frames, plan, n, err),
  };
}

/** native/build/adx_native.node, from src/transform/ or dist/src/transform/. */
export function nativeAddonPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'native', 'build', 'adx_native.node');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../native/build/adx_native.node');
}

let loaded: NativeHotPath | Error | undefined;

/** The addon, or the reason it cannot be used (not built, no compiler, wrong platform). */
export function loadNativeHotPath(): NativeHotPath | Error {
  if (loaded !== undefined) return loaded;
  const file = nativeAddonPath();
  try {
    loaded = checkNativeApi(createRequire(import.meta.url)(file) as Partial<NativeHotPath>, file);
  } catch (e) {
    loaded = new Error(`native hot path not available (${file}): ${(e as Error).message.split('\n')[0]}; run \`npm run build\` with a C compiler (gcc) installed`);
  }
  return loaded;
}

/** The loaded module when it was built from this source's API version, or why not. */
export function checkNativeApi(addon: Partial<NativeHotPath>, file: string): NativeHotPath | Error {
  if (addon.apiVersion === NATIVE_API_VERSION) return addon as NativeHotPath;
  const found = addon.apiVersion === undefined ? 'no API version (an older build)' : `API version ${String(addon.apiVersion)}`;
  return new Error(
    `native hot path at ${file} has ${found}, this build needs ${NATIVE_API_VERSION}: it was built from other sources; run \`npm run build\` (needs gcc) to rebuild it`,
  );
}

/**
 * The addon to use under `--hot-path`: undefined for `typescript`; for `native` an Error when it
 * cannot load; for `auto` the addon or undefined.
 */
export function selectHotPath(mode: 'auto' | 'native' | 'typescript'): NativeHotPath | Error | undefined {
  if (mode === 'typescript') return undefined;
  const native = loadNativeHotPath();
  if (native instanceof Error) return mode === 'native' ? native : undefined;
  return native;
}
