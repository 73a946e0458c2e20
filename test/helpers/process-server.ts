/**
 * acihost as a child process (`acihost serve`), for tests that kill it or
 * restart it on the same storage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { httpsRequest } from './tls.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export async function spawnServer(opts: {
  configFile: string;
  env: Record<string, string>;
  origin: string;
  caPem: () => Promise<string>;
  /** The CLI to run (src/cli.ts unless told, e.g. a built dist/cli.js). */
  cli?: string;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [opts.cli ?? CLI, 'serve', '--config', opts.configFile], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Logs (stdout) and messages (stderr) together, for assertion messages.
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (err += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited early: ${err}`);
    try {
      const res = await httpsRequest(`${opts.origin}/`, { ca: await opts.caPem(), timeoutMs: 1000 });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
