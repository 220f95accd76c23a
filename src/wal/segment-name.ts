/**
 * Segment file names: `<Database>_<Table>[_<SchemaHash>]_<Id>.wal`. Every field is `[A-Za-z0-9]+`,
 * so a name can never contain a path separator or `..`, and splitting on `_` is unambiguous.
 * Ids are time-ordered: fixed-width base-36 milliseconds, then writer and sequence, so a
 * lexicographic sort of one table's segments is their creation order.
 */
const FIELD = /^[A-Za-z0-9]+$/;

export interface SegmentName {
  readonly database: string;
  readonly table: string;
  /** Lower-case hex schema hash when lifted columns change the schema; undefined otherwise. */
  readonly schemaHash?: string;
  readonly id: string;
}

/** The (database, table, schema) key segments are grouped by, e.g. `Metrics_Up` or `Metrics_Up_1f2e`. */
export function segmentPrefix(database: string, table: string, schemaHash?: string): string {
  if (!FIELD.test(database) || !FIELD.test(table) || (schemaHash !== undefined && !FIELD.test(schemaHash))) {
    throw new Error(`invalid segment name field in ${database}/${table}/${schemaHash ?? ''}`);
  }
  return schemaHash === undefined ? `${database}_${table}` : `${database}_${table}_${schemaHash}`;
}

export function segmentFileName(prefix: string, id: string): string {
  return `${prefix}_${id}.wal`;
}

/** Parses a segment file name; undefined for anything that is not one (other files are ignored). */
export function tryParseSegmentName(fileName: string): SegmentName | undefined {
  if (!fileName.endsWith('.wal')) return undefined;
  const fields = fileName.slice(0, -4).split('_');
  if ((fields.length !== 3 && fields.length !== 4) || !fields.every((f) => FIELD.test(f))) return undefined;
  const [database, table] = fields as [string, string];
  return fields.length === 3
    ? { database, table, id: fields[2]! }
    : { database, table, schemaHash: fields[2]!, id: fields[3]! };
}

const TIME_WIDTH = 9; // base-36 milliseconds stay 9 wide until the year 5188
let sequence = 0;

/** A new time-ordered id; `writer` distinguishes concurrent writers (worker threads). */
export function newSegmentId(writer: number, nowMs = Date.now()): string {
  sequence = (sequence + 1) % 36 ** 4;
  return (
    nowMs.toString(36).padStart(TIME_WIDTH, '0') +
    (writer % 36 ** 2).toString(36).padStart(2, '0') +
    sequence.toString(36).padStart(4, '0')
  );
}

/** Creation time encoded in an id made by `newSegmentId`; undefined for foreign ids. */
export function tryIdTimeMs(id: string): number | undefined {
  if (id.length !== TIME_WIDTH + 6 || !/^[0-9a-z]+$/.test(id)) return undefined;
  const ms = parseInt(id.slice(0, TIME_WIDTH), 36);
  return Number.isFinite(ms) ? ms : undefined;
}
