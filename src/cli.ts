#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from './config/config.js';
import { envName, SERVE_OPTIONS } from './config/options.js';
import { ConfigError } from './config/units.js';
import { createLogger } from './log/logger.js';
import { serve } from './main.js';
import { readSegment } from './wal/segment-reader.js';
import { tryParseSegmentName } from './wal/segment-name.js';

const USAGE = `adx-ingestor: Prometheus remote write into a per-table WAL, batched for Azure Data Explorer.

Usage:
  adx-ingestor serve [flags]        run the ingestor
  adx-ingestor wal dump FILE        print a segment's blocks and rows
  adx-ingestor wal verify DIR|FILE  check every segment; exit 1 and say which bytes are bad
  adx-ingestor --help | --version
`;

function serveHelp(): string {
  const rows = SERVE_OPTIONS.map((o) => {
    const unit = { size: ' <bytes: 512KiB, 100MB, 10GiB>', duration: ' <duration: 250ms, 90s, 5m>', int: ' <n>', hostport: ' <host:port>', string: ' <text>', enum: ` <${o.values?.join('|')}>`, list: ' <item>', 'regex-list': ' <regex>' }[o.kind];
    const def = o.default === undefined ? '' : ` (default ${o.default})`;
    return `  --${o.name}${unit}${def}\n      ${o.help}\n      env ${envName(o.name)}`;
  });
  return `${USAGE}\nFlags of serve (flag beats environment):\n${rows.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help' || rest.includes('--help')) {
    process.stdout.write(cmd === 'serve' || cmd === undefined || cmd === '--help' ? serveHelp() : USAGE);
    return 0;
  }
  if (cmd === '--version') {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (cmd === 'serve') return runServe(rest);
  if (cmd === 'wal' && rest[0] === 'dump' && rest.length === 2) return walDump(rest[1]!);
  if (cmd === 'wal' && rest[0] === 'verify' && rest.length === 2) return walVerify(rest[1]!);
  process.stderr.write(`unknown command: ${argv.join(' ')}\n\n${USAGE}`);
  return 2;
}

async function runServe(args: string[]): Promise<number> {
  const config = loadConfig(args);
  const log = createLogger(config.logLevel);
  const server = await serve(config, log);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => void server.shutdown(sig).then(resolve);
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function walDump(file: string): number {
  const seg = readSegment(file);
  const out = process.stdout;
  out.write(`# segment ${file}: ${seg.size} bytes, ${seg.blocks.length} blocks\n`);
  for (const [i, b] of seg.blocks.entries()) {
    out.write(`# block ${i} at offset ${b.offset}: type ${b.type}, ${b.count} rows\n`);
    out.write(b.csv);
  }
  if (seg.problem) out.write(`# BAD at offset ${seg.problem.offset}: ${seg.problem.reason}\n`);
  return seg.problem ? 1 : 0;
}

function walVerify(target: string): number {
  const files = fs.statSync(target).isDirectory()
    ? fs.readdirSync(target).filter((f) => tryParseSegmentName(f) !== undefined).sort().map((f) => path.join(target, f))
    : [target];
  let bad = 0;
  for (const file of files) {
    const seg = readSegment(file);
    const rows = seg.blocks.reduce((n, b) => n + b.count, 0);
    if (seg.problem) {
      bad++;
      process.stdout.write(`BAD ${file}: bytes ${seg.problem.offset}..${seg.size} are bad (${seg.problem.reason}); ${seg.blocks.length} good blocks, ${rows} rows before them\n`);
    } else process.stdout.write(`ok  ${file}: ${seg.blocks.length} blocks, ${rows} rows, ${seg.size} bytes\n`);
  }
  process.stdout.write(`${files.length} segments checked, ${bad} bad\n`);
  return bad > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof ConfigError) process.stderr.write(`adx-ingestor: ${e.message}\n`);
    else process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: 'fatal', error: String(e?.stack ?? e) })}\n`);
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  },
);
