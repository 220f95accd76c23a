#!/usr/bin/env node
// Builds the native hot path (native/hotpath.c, which includes the native/*.h parts, →
// native/build/adx_native.node) with the system C compiler and the Node-API headers from the
// `node-api-headers` package. Node-API is ABI-stable, so the result loads in any Node ≥ 18 on the
// same platform. Skips the compile when the output is newer than every source file. Without a compiler it says so and exits 0: the server then runs the
// TypeScript writer (`--hot-path auto`) or refuses to start (`--hot-path native`).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The value after `--name` on the command line, if given. */
const option = (name) => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
};
// --sanitize: AddressSanitizer and UBSan, for scripts/fuzz-native.ts (never loaded by the server).
// --src/--out: another source file and output (test/transform/native-fuzz.test.ts builds a copy
// of native/ with a bug planted in it); the parts are the .h files beside the source.
const sanitize = process.argv.includes('--sanitize');
const src = path.resolve(option('src') ?? path.join(root, 'native', 'hotpath.c'));
const out = path.resolve(option('out') ?? path.join(root, 'native', sanitize ? 'build-asan' : 'build', 'adx_native.node'));
const cc = process.env.CC || 'cc';

const sources = [src, ...readdirSync(path.dirname(src)).filter((f) => f.endsWith('.h')).map((f) => path.join(path.dirname(src), f))];
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
if (existsSync(out) && statSync(out).mtimeMs >= newest && !process.argv.includes('--force')) process.exit(0);

let include;
try {
  include = createRequire(import.meta.url)('node-api-headers').include_dir;
} catch (e) {
  console.warn(`build-native: node-api-headers not installed (${e.message.split('\n')[0]}); native hot path not built`);
  process.exit(0);
}
mkdirSync(path.dirname(out), { recursive: true });
const optimize = sanitize ? ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'] : ['-O2'];
const args = [...optimize, '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-I', include, src, '-o', out];
try {
  execFileSync(cc, args, { stdio: 'inherit' });
  console.error(`build-native: built ${path.relative(root, out)}`);
} catch (e) {
  console.warn(`build-native: ${cc} ${args.join(' ')} failed (${e.message.split('\n')[0]}); the server will use the TypeScript hot path (install gcc: apt-get install -y build-essential)`);
  process.exit(process.argv.includes('--require') ? 1 : 0);
}
