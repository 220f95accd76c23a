/**
 * The processes and temp directories the harness creates, pinned to CPUs with `taskset`, and
 * their cleanup: every child is tracked until it exits and every temp directory until it is
 * removed, so a failed run, Ctrl-C or an exception leaves nothing behind (`stopEverything`,
 * plus a synchronous SIGKILL / rm on process exit as the last resort).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The repository root (from `perf/harness/` or `dist/perf/harness/`): children run here, so recorded commands use relative paths (`node dist/…`). */
export const REPO_ROOT = findRepoRoot(path.dirname(new URL(import.meta.url).pathname));

function findRepoRoot(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'perf'))) return dir;
  }
  throw new Error(`no repository root above ${from}`);
}

const LOG_TAIL_CHARS = 64 * 1024;

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The command line as a shell would take it (`taskset -c 0 node dist/src/cli.js …`). */
  readonly command: string;
  /** Last part of stdout + stderr (stdout only when not piped to the caller). */
  logTail(): string;
  readonly proc: ChildProcess;
  /** Exit code or signal name once exited. */
  readonly exited: Promise<number | string | null>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once exited. Safe to call twice. */
  stop(graceMs?: number): Promise<number | string | null>;
}

const live = new Set<Child>();
const tempDirs = new Set<string>();

/** `'a b'` → `'a b'` quoted for sh; plain words stay as they are. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export interface SpawnOptions {
  /** `taskset -c` CPU list; undefined runs unpinned. */
  cpus: string | undefined;
  /** `nice -n` adjustment; undefined leaves the priority as it is. */
  nice?: number;
  /** Keep stdout for the caller (`proc.stdout`) instead of the log tail. */
  pipeStdout?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function spawnChild(name: string, argv: readonly string[], opts: SpawnOptions): Child {
  const pinned = opts.cpus === undefined ? [...argv] : ['taskset', '-c', opts.cpus, ...argv];
  const full = opts.nice === undefined ? pinned : ['nice', '-n', String(opts.nice), ...pinned];
  const proc = spawn(full[0]!, full.slice(1), { cwd: REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d: Buffer) => {
    tail += d.toString();
    if (tail.length > 2 * LOG_TAIL_CHARS) tail = tail.slice(-LOG_TAIL_CHARS);
  };
  if (!opts.pipeStdout) proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string | null>((resolve) => {
    proc.once('exit', (code, sig) => resolve(code ?? sig));
    proc.once('error', (err) => {
      tail += `\nspawn error: ${err.message}\n`;
      resolve(null);
    });
  });
  const child: Child = {
    name,
    pid: proc.pid ?? -1,
    command: full.map(shellQuote).join(' '),
    logTail: () => tail.slice(-LOG_TAIL_CHARS),
    proc,
    exited,
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** A fresh directory under the OS temp dir, removed by `removeTempDir` or at exit. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Stops every live child (SIGTERM, then SIGKILL after `graceMs`) and removes every temp dir. */
export async function stopEverything(graceMs: number): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(graceMs)));
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

/** The last resort when the harness exits with something still running. */
process.on('exit', () => {
  for (const c of live) c.proc.kill('SIGKILL');
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A port that was free on 127.0.0.1 a moment ago (for programs that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** GET `url` (loopback), body as text; throws unless 2xx or after `timeoutMs`. */
export async function httpGet(url: string, timeoutMs = 5000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 200)}`);
  return body;
}

/** Polls `check` until it returns true; throws after `timeoutMs` or when `child` exits first. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child?.exited.then(() => (exited = true));
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (exited) throw new Error(`${child!.name} exited while waiting for ${what}:\n${child!.logTail().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/**
 * Spawns `argv` (see `spawnChild`) and waits up to 30 s until `readyUrl` answers 2xx and
 * `alsoReady` (when given) holds; stops the child and throws when it does not get there.
 */
export async function spawnReady(name: string, argv: readonly string[], opts: SpawnOptions, readyUrl: string, alsoReady?: () => Promise<boolean>): Promise<Child> {
  const child = spawnChild(name, argv, opts);
  try {
    const ready = async () => {
      await httpGet(readyUrl, 1000);
      return alsoReady === undefined || alsoReady();
    };
    await waitUntil(`${name} to be ready`, ready, 30_000, child);
    return child;
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
}
