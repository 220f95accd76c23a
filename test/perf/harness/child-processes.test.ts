import t from 'tap';
import { spawnChild } from '../../../perf/harness/child-processes.js';

async function run(nice: number | undefined): Promise<{ command: string; code: number | string | null; out: string }> {
  // `nice` with no arguments prints the niceness it runs at.
  const child = spawnChild('nice-probe', ['nice'], { cpus: '0', nice, pipeStdout: true });
  let out = '';
  child.proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await child.exited;
  return { command: child.command, code, out: out.trim() };
}

t.test('a child can be started at another priority, and its recorded command says so', async (t) => {
  const base = await run(undefined);
  t.equal(base.code, 0);
  t.match(base.command, /^taskset -c 0 nice$/);
  const lower = await run(5);
  t.equal(lower.code, 0);
  t.equal(lower.command, 'nice -n 5 taskset -c 0 nice');
  t.equal(Number(lower.out), Math.min(19, Number(base.out) + 5), `the child ran at niceness ${lower.out} (the harness at ${base.out})`);
});
