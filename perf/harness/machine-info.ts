/** The machine and the versions of everything measured, for the report's header. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './child-processes.js';
import type { PerfReport } from './report-types.js';

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function machineInfo(): PerfReport['machine'] {
  const release = fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '';
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.type(),
  };
}

/** Debian package version, e.g. "1.79.5+ds1-2+b5"; undefined when not installed from a package. */
function debVersion(pkg: string): string | undefined {
  return tryRun('dpkg-query', ['-W', '-f=${Version}', pkg]);
}

/** Versions of node, adx-ingestor (package version and commit) and the Debian-packaged peers and senders. */
export function versions(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = tryRun('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'workers']) !== undefined;
  const out: Record<string, string> = {
    node: process.version,
    'adx-ingestor': `${pkg.version}${commit ? ` (${commit}${dirty ? ', uncommitted changes in src/' : ''})` : ''}`,
  };
  const vm = debVersion('victoria-metrics');
  if (vm !== undefined) out['victoria-metrics'] = vm;
  if (vm !== undefined) out.vmagent = vm;
  const prom = debVersion('prometheus');
  if (prom !== undefined) out.prometheus = prom;
  return out;
}
