/**
 * Child processes pinned to cores, their memory, and bounded waits. On one core the
 * server under test runs on SERVER_CORE and every load generator on LOAD_CORE, so
 * the two never compete for one core; on two (the machine has two) the server may
 * use both, and so may the load.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const SERVER_CORE = '0';
export const LOAD_CORE = '1';

/** Where the servers under test and their load run (taskset CPU lists). */
export interface Placement {
  /** Cores the server may use: acihost starts as many workers (its default), nginx is given as many. */
  cores: number;
  server: string;
  load: string;
}

export const ONE_CORE: Placement = { cores: 1, server: SERVER_CORE, load: LOAD_CORE };
/** The server on both cores; the load then shares them, the same for either server. */
export const TWO_CORES: Placement = { cores: 2, server: '0,1', load: '0,1' };

export const coresLabel = (p: Placement) => (p.cores === 1 ? '1 core' : `${p.cores} cores`);

/** How many cores a taskset CPU list names ("1", "0,1", "0-3"). */
export function coresIn(list: string): number {
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
}

/** Starts `command` pinned to `core` with taskset. */
export function spawnPinned(core: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('taskset', ['-c', core, command, ...args], options);
}

/** Runs a pinned command to its end within `timeoutMs`; resolves with its output, rejects on failure. */
export async function runPinned(
  core: string,
  command: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string }> {
  const child = spawnPinned(core, command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    // 'close', not 'exit': a child's last output can arrive after it has exited (seen as
    // an empty curl report, status 0, with eight transfers at once).
    const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-500)}`);
    return { stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a child with SIGTERM (SIGKILL after `graceMs`) and waits for it. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Peak resident memory of a process since the last reset: Linux keeps it as VmHWM,
 * and writing 5 to clear_refs resets it, so each transfer gets its own peak.
 */
export const peakRss = {
  reset(pid: number): void {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  },
  /** Bytes. */
  read(pid: number): number {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (!kb) throw new Error(`no VmHWM for process ${pid}`);
    return Number(kb) * 1024;
  },
};

/** The largest peak among several processes (a cluster's supervisor and workers), bytes; resets as `peakRss`. */
export const peakRssOfAll = {
  reset(pids: number[]): void {
    for (const pid of pids) peakRss.reset(pid);
  },
  read(pids: number[]): number {
    return Math.max(...pids.map((pid) => peakRss.read(pid)));
  },
};

/** CPU time used so far by `pid` and its children alive now, in clock ticks (utime + stime from /proc). */
function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: state is the first, utime the 12th, stime the 13th.
      const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // Gone: it uses no CPU now.
    }
  }
  return ticks;
}

/**
 * Waits until `pid` and its children have been idle for a moment (at most `timeoutMs`):
 * a server with several workers answers once one of them listens, while the others
 * may still be starting, and that start is not part of what is measured.
 */
export async function settle(pid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let before = cpuTicks([pid, ...childPids(pid)]);
  while (Date.now() < deadline) {
    await sleep(250);
    const now = cpuTicks([pid, ...childPids(pid)]);
    // A tick is 10 ms: under 3 in 250 ms is idle.
    if (now - before < 3) return;
    before = now;
  }
}

/** Child pids of `pid` (nginx's workers, a cluster's workers), from /proc. */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(everyMs);
  }
  throw new Error(`bench: ${what} did not happen within ${timeoutMs} ms`);
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
