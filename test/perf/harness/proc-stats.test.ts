import { spawn } from 'node:child_process';
import t from 'tap';
import { parseProcStat, parseProcStatus, processTree, ProcParseError, treeCpuSeconds, treePeakRssMiB } from '../../../perf/harness/proc-stats.js';

// proc(5) layout; comm may contain spaces and parentheses.
const STAT = '4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 12345 0 7 0 1500 250 30 5 20 0 9 0 123456 1073741824 50000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0';

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
PPid:\t17
VmPeak:\t 1234567 kB
VmSize:\t 1200000 kB
VmHWM:\t  291234 kB
VmRSS:\t  280000 kB
Threads:\t11
`;

t.test('parseProcStat counts fields after the last parenthesis', async (t) => {
  t.same(parseProcStat(STAT), { pid: 4242, ppid: 17, utimeTicks: 1500, stimeTicks: 250, cutimeTicks: 30, cstimeTicks: 5 });
  t.throws(() => parseProcStat('garbage'), ProcParseError);
  t.throws(() => parseProcStat('1 (x) S 0 0'), ProcParseError, 'too few fields');
});

t.test('parseProcStatus reads VmHWM and VmRSS in KiB', async (t) => {
  t.same(parseProcStatus(STATUS), { vmHwmKiB: 291234, vmRssKiB: 280000 });
  t.same(parseProcStatus('Name:\tkthreadd\nState:\tS\n'), { vmHwmKiB: undefined, vmRssKiB: undefined }, 'kernel threads have none');
});

t.test('the live tree: this process, a child, CPU time and peak RSS', async (t) => {
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  t.ok(processTree(process.pid).includes(child.pid!), 'the child is in our tree');
  t.equal(processTree(process.pid)[0], process.pid, 'the root comes first');
  const before = treeCpuSeconds(process.pid);
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += Math.sqrt(i);
  t.ok(x > 0);
  t.ok(treeCpuSeconds(process.pid) >= before, 'CPU time never goes back');
  t.ok(before > 0, 'a running process has used some CPU');
  t.ok(treePeakRssMiB(process.pid) > 10, 'peak RSS of a node process is more than 10 MiB');
  t.equal(treeCpuSeconds(2 ** 22 + 12345), 0, 'a process that does not exist used nothing');
});
