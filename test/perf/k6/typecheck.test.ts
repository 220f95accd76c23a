import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const tsc = (project: string) => spawnSync(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { encoding: 'utf8' });

// The k6 scripts run in k6's JavaScript runtime, not Node, so the main build does not compile them;
// this keeps them checked against @types/k6 and the extension's declaration (perf/k6/types/).
t.test('the k6 scripts type-check against @types/k6', async (t) => {
  const r = tsc(path.join(ROOT, 'perf/k6'));
  t.equal(r.status, 0, r.stdout);
});

t.test('the k6 type check catches wrong k6 and extension use, and Node APIs', async (t) => {
  // Under the repository (tap's .tap/fixtures), so `k6/*` resolves through node_modules/@types/k6.
  const dir = t.testdir({
    'tsconfig.json': JSON.stringify({
      extends: path.join(ROOT, 'perf/k6/tsconfig.json'),
      include: ['*.ts', path.join(ROOT, 'perf/k6/types/**/*.d.ts')],
    }),
    'wrong.ts': [
      "import http from 'k6/http';",
      "import remote from 'k6/x/remotewrite';",
      "const client = new remote.Client({ endpoint: 'http://127.0.0.1:9090/api/v1/write' });",
      'export default function (): void {',
      "  const res = http.post('http://127.0.0.1:9090/api/v1/write', open('body.bin', 'b'), { timeout: true });",
      '  if (res.statuss === 204) client.store([{ labels: [], samples: [{ value: "1" }] }]);',
      '  process.stdout.write("node only");',
      '}',
    ].join('\n'),
  });
  const r = tsc(dir);
  t.not(r.status, 0);
  const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
  t.equal(errors.length, 5, r.stdout);
  t.match(r.stdout, /wrong\.ts\(3,.*'endpoint' does not exist/, 'extension config');
  t.match(r.stdout, /wrong\.ts\(5,.*Type 'true' is not assignable/, 'k6 http params (timeout)');
  t.match(r.stdout, /wrong\.ts\(6,.*'statuss' does not exist/, 'k6 response');
  t.match(r.stdout, /wrong\.ts\(6,.*not assignable to type 'number'/, 'extension sample');
  t.match(r.stdout, /wrong\.ts\(7,.*Cannot find name 'process'/, 'no Node globals');
  t.ok(fs.existsSync(path.join(dir, 'wrong.ts')));
});
