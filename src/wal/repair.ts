import fs from 'node:fs';
import { crc32, hasSegmentHeader, WAL } from './format.js';

export interface RepairResult {
  readonly path: string;
  /** Size after repair (the good prefix). */
  readonly size: number;
  readonly frames: number;
  /** Bytes cut off the end; 0 when the segment was clean. */
  readonly truncatedBytes: number;
  /** First bad offset and why, when anything was cut. */
  readonly problem?: { readonly offset: number; readonly reason: string };
  /** The file had no valid header: nothing in it can be trusted. */
  readonly headerBad: boolean;
}

/**
 * Checks a segment frame by frame (length and CRC) with positional reads, without loading it
 * whole, and reports the good prefix. `truncate` cuts the file to it and fsyncs.
 */
export function checkSegment(filePath: string, options: { truncate: boolean }): RepairResult {
  const fd = fs.openSync(filePath, options.truncate ? 'r+' : 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const head = Buffer.alloc(WAL.frameHeaderBytes);
    const headerRead = fs.readSync(fd, head, 0, WAL.headerBytes, 0);
    if (headerRead < WAL.headerBytes || !hasSegmentHeader(head)) {
      return { path: filePath, size: 0, frames: 0, truncatedBytes: fileSize, headerBad: true, problem: { offset: 0, reason: 'missing or bad ADXWAL header' } };
    }
    let pos: number = WAL.headerBytes;
    let frames = 0;
    let problem: RepairResult['problem'];
    let payload = Buffer.alloc(64 * 1024);
    while (pos < fileSize) {
      if (fileSize - pos < WAL.frameHeaderBytes) {
        problem = { offset: pos, reason: 'torn frame header' };
        break;
      }
      fs.readSync(fd, head, 0, WAL.frameHeaderBytes, pos);
      const length = head.readUInt32BE(0);
      const crc = head.readUInt32BE(4);
      const start = pos + WAL.frameHeaderBytes;
      if (length === 0 || length > WAL.maxFrameBytes || start + length > fileSize) {
        problem = { offset: pos, reason: `torn frame (length ${length})` };
        break;
      }
      if (payload.length < length) payload = Buffer.alloc(Math.max(length, payload.length * 2));
      const view = payload.subarray(0, length);
      fs.readSync(fd, view, 0, length, start);
      if (crc32(view) !== crc) {
        problem = { offset: pos, reason: 'CRC mismatch' };
        break;
      }
      frames++;
      pos = start + length;
    }
    if (problem && options.truncate) {
      fs.ftruncateSync(fd, pos);
      fs.fsyncSync(fd);
    }
    return { path: filePath, size: pos, frames, truncatedBytes: fileSize - pos, problem, headerBad: false };
  } finally {
    fs.closeSync(fd);
  }
}
