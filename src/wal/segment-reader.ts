import fs from 'node:fs';
import { decodePayload, scanFrames, WAL, type DecodedBlock } from './format.js';

export interface ReadBlock extends DecodedBlock {
  /** File offset of the block's frame. */
  readonly offset: number;
}

export interface SegmentContents {
  readonly blocks: ReadBlock[];
  readonly size: number;
  /** The first bad byte and why; undefined for a clean segment. */
  readonly problem?: { readonly offset: number; readonly reason: string };
}

/**
 * Reads a whole segment into memory and decodes every block (tools and tests; the upload path
 * streams). Stops at the first frame that is torn, fails its CRC, or does not decode.
 */
export function readSegment(filePath: string): SegmentContents {
  const bytes = fs.readFileSync(filePath);
  const scan = scanFrames(bytes);
  const blocks: ReadBlock[] = [];
  let offset: number = WAL.headerBytes;
  for (const payload of scan.payloads) {
    try {
      const block = decodePayload(payload);
      const lines = countRows(block.csv);
      if (lines !== block.count) {
        return { blocks, size: bytes.length, problem: { offset, reason: `block says ${block.count} rows, CSV has ${lines}` } };
      }
      blocks.push({ ...block, offset });
    } catch (e) {
      return { blocks, size: bytes.length, problem: { offset, reason: `block does not decode: ${(e as Error).message}` } };
    }
    offset += WAL.frameHeaderBytes + payload.byteLength;
  }
  return { blocks, size: bytes.length, problem: scan.problem };
}

/** Data rows in a block's CSV: its lines minus the header line. Quoted fields never hold raw newlines here (JSON escapes them). */
export function countRows(csv: Buffer): number {
  let n = 0;
  for (let i = csv.indexOf(10); i !== -1; i = csv.indexOf(10, i + 1)) n++;
  return Math.max(0, n - 1);
}
