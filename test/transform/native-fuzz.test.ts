/**
 * Runs scripts/fuzz-native.ts (the addon under AddressSanitizer and UBSan, fed valid, random and
 * mutated request bodies, remote write requests and WAL blocks, checked against the TypeScript
 * writer and the `snappy` package) for a few seconds with a fixed seed, and shows that it catches
 * a bounds check taken out of the body decoder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fuzzer = path.join(root, 'dist', 'scripts', 'fuzz-native.js');

function fuzz(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [fuzzer, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

if (process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE === '1') {
  t.pass('native addon not built (ADX_INGESTOR_TEST_WITHOUT_NATIVE=1): nothing to fuzz');
} else {
  t.test('the addon survives valid, random and mutated inputs and agrees with TypeScript', async (t) => {
    const { status, output } = fuzz('--seconds', '12', '--seed', '20261122');
    t.equal(status, 0, `the fuzzer passes:\n${output.slice(-3000)}`);
    const counts = /encodeV1 (\d+), encodeV2 (\d+), uncompress (\d+), compressBlock (\d+), frames (\d+), kept (\d+), frameTables (\d+); no sanitizer report/.exec(output);
    t.ok(counts, 'it reports what it ran');
    for (const [i, what] of ['encodeV1', 'encodeV2', 'uncompress', 'compressBlock', 'frames', 'kept', 'frameTables'].entries()) {
      t.ok(Number(counts?.[i + 1]) >= 100, `${what}: ${counts?.[i + 1]} inputs`);
    }
  });

  /** The fuzzer (seed 7, up to 20 s) against a copy of native/ with `line` replaced by `planted` in the one file that has it. */
  const plantedRun = (t: Tap.Test, line: string, planted: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'adx-fuzz-plant-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const native = path.join(root, 'native');
    const sources = readdirSync(native).filter((f) => f.endsWith('.c') || f.endsWith('.h'));
    const holding = sources.filter((f) => readFileSync(path.join(native, f), 'utf8').includes(line));
    t.equal(holding.length, 1, `the line to change is in one file of native/ (${holding.join(', ')})`);
    for (const f of sources) {
      const source = readFileSync(path.join(native, f), 'utf8');
      writeFileSync(path.join(dir, f), holding.includes(f) ? source.replace(line, planted) : source);
    }
    const addon = path.join(dir, 'planted.node');
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--sanitize', '--require', '--src', path.join(dir, 'hotpath.c'), '--out', addon]);
    return fuzz('--seconds', '20', '--seed', '7', '--addon', addon);
  };

  t.test('it catches a bounds check taken out of the body decoder', async (t) => {
    const { status, output } = plantedRun(t, 'if (off < 8 || off > (size_t)(op - out)) goto copy;', 'if (off < 8) goto copy;');
    t.not(status, 0, 'the fuzzer fails');
    // A read past the block lands in whatever the heap holds there: an overflow, or memory V8's
    // compiler threads freed (both seen, from the same seed); either way the decoder is named.
    t.match(output, /AddressSanitizer: heap-(buffer-overflow|use-after-free) on address[\s\S]*in uncompress_block/, 'with the sanitizer report naming the decoder');
    t.match(output, /FAILED \(seed 7; replay with --seed 7\)/, 'and the seed to replay it');
  });

  t.test('it catches rows held across requests that a refused request does not take back', async (t) => {
    const { status, output } = plantedRun(t, 't->len = c->marks[i].len;', '');
    t.not(status, 0, 'the fuzzer fails');
    t.match(output, /fuzz-native: frameTables: table \S+: framed/, 'on a frame holding more than its requests wrote');
  });
}
