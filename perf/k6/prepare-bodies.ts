/**
 * Writes remote-write request bodies for perf/k6/remote-write-http.ts: `--count` snappy-compressed
 * bodies built by loadgen's RequestBuilder (the series, labels and values of `loadgen --seed N`),
 * one file each, plus `manifest.json` naming them.
 *
 *   node dist/perf/k6/prepare-bodies.js --protocol 2 --out /tmp/rw2-bodies
 *
 * Node only: k6 cannot snappy-encode, so the k6 script sends these bytes as they are.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RequestBuilder, type Protocol, type RequestBuilderOptions } from '../lib/request-builder.js';
import { MANIFEST_FILE, type BodiesManifest } from './lib/bodies-manifest.js';

const USAGE = `usage: node dist/perf/k6/prepare-bodies.js --out DIR [flags]
  --out DIR                  directory for the bodies and ${MANIFEST_FILE} (created)
  --protocol 1|2             remote write 1.0 or 2.0 (1)
  --count N                  bodies to write (default: one pass over the series, series / samples-per-request)
  --series N                 active series, walked round-robin (100000)
  --metrics N                distinct metric names (100)
  --labels N                 labels per series besides __name__ (8)
  --label-values N           distinct values per label name (300)
  --samples-per-request N    one sample per series per request (2000)
  --seed N                   as loadgen's --seed: same seed, same series (1)
  --no-metadata              2.0: leave out per-series metadata (type, help)
`;

class UsageError extends Error {}

interface Cli {
  out: string;
  count: number;
  builder: Omit<RequestBuilderOptions, 'now'>;
}

function integer(flag: string, s: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag}: expected an integer >= ${min}, got ${s}`);
  return n;
}

/** Undefined for `--help`. */
function parseCli(argv: string[]): Cli | undefined {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      protocol: { type: 'string', default: '1' },
      count: { type: 'string' },
      series: { type: 'string', default: '100000' },
      metrics: { type: 'string', default: '100' },
      labels: { type: 'string', default: '8' },
      'label-values': { type: 'string', default: '300' },
      'samples-per-request': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      'no-metadata': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return undefined;
  if (v.out === undefined) throw new UsageError('--out is required');
  if (v.protocol !== '1' && v.protocol !== '2') throw new UsageError(`--protocol must be 1 or 2, got ${v.protocol}`);
  const series = integer('series', v.series, 1);
  const samplesPerRequest = integer('samples-per-request', v['samples-per-request'], 1);
  return {
    out: v.out,
    count: v.count !== undefined ? integer('count', v.count, 1) : Math.ceil(series / Math.min(series, samplesPerRequest)),
    builder: {
      protocol: Number(v.protocol) as Protocol,
      series,
      metrics: integer('metrics', v.metrics, 1),
      labels: integer('labels', v.labels, 0),
      labelValues: integer('label-values', v['label-values'], 1),
      samplesPerRequest,
      seed: integer('seed', v.seed, 0),
      metadata: !v['no-metadata'],
    },
  };
}

/** Builds and writes the bodies and the manifest; throws RangeError for a series set that cannot exist. */
function writeBodies(cli: Cli, firstTimestampMs: number): BodiesManifest {
  // Body i is stamped firstTimestampMs + i: a series that comes round again (--count above one pass)
  // gets a later timestamp, never a second value at the same one.
  let tick = 0;
  const builder = new RequestBuilder({ ...cli.builder, now: () => firstTimestampMs + tick++ });
  mkdirSync(cli.out, { recursive: true });
  const { protocol, series, metrics, labels, labelValues, seed, metadata = true } = cli.builder;
  const manifest: BodiesManifest = {
    protocol,
    series,
    metrics,
    labels,
    labelValues,
    samplesPerRequest: builder.samplesPerRequest,
    seed,
    metadata,
    firstTimestampMs,
    bodies: [],
  };
  for (let i = 0; i < cli.count; i++) {
    const built = builder.next();
    const file = `body-${String(i).padStart(5, '0')}.bin`;
    writeFileSync(path.join(cli.out, file), built.body);
    manifest.bodies.push({ file, samples: built.samples, bytes: built.body.length });
  }
  writeFileSync(path.join(cli.out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function main(argv: string[]): number {
  let cli: Cli | undefined;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError) && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw err;
    process.stderr.write(`prepare-bodies: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  let manifest: BodiesManifest;
  try {
    manifest = writeBodies(cli, Date.now());
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    process.stderr.write(`prepare-bodies: ${err.message}\n`);
    return 2;
  }
  const samples = manifest.bodies.reduce((n, b) => n + b.samples, 0);
  const kib = manifest.bodies.reduce((n, b) => n + b.bytes, 0) / 1024;
  process.stderr.write(
    `prepare-bodies: wrote ${manifest.bodies.length} remote write ${manifest.protocol}.0 bodies ` +
      `(${samples} samples, ${kib.toFixed(0)} KiB snappy) and ${MANIFEST_FILE} to ${cli.out}\n`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
