/**
 * Child processes pinned to a core, their memory, and bounded waits. The server
 * under test runs on SERVER_CORE and every load generator on LOAD_CORE, so the two
 * never compete for one core (the machine has two).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const SERVER_CORE = '0';
export const LOAD_CORE = '1';

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

/** Child pids of `pid` (nginx's workers), from /proc. */
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
