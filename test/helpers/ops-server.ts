/**
 * A real acihost in this process with any TLS set-up (ACME, files, off), for the
 * operations tests; test/helpers/server.ts covers the usual development-CA case.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { runCli } from './server.ts';
import { tempDir } from './temp-dir.ts';

export interface OpsServer {
  running: RunningServer;
  config: Config;
  dir: string;
  env: Record<string, string>;
  /** The development CA's certificate, when the server uses it ('' otherwise). */
  caPem: string;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, any>[];
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  close(): Promise<void>;
}

export function makeDir(): Promise<string> {
  return tempDir('acihost-ops-');
}

/** Starts a server over `dir` (a fresh one by default) with ACIHOST_* `env` on top of loopback defaults. */
export async function startOpsServer(opts: {
  env: Record<string, string>;
  config?: Record<string, unknown>;
  dir?: string;
}): Promise<OpsServer> {
  const dir = opts.dir ?? (await makeDir());
  const configFile = join(dir, 'config.json');
  // The development CA in this directory, for the server and for CLI runs alike.
  const fileConfig = { ...opts.config, tls: { devCertsDir: join(dir, 'certs'), ...(opts.config?.tls as object | undefined) } };
  await writeFile(configFile, JSON.stringify(fileConfig));
  const env: Record<string, string> = {
    ACIHOST_HOST: '127.0.0.1',
    ACIHOST_STORAGE_DIR: join(dir, 'storage'),
    ACIHOST_LOG_LEVEL: 'info',
    ...opts.env,
  };
  const config = loadConfig({ env, file: configFile });
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const running = await startServer(config, createLogger(config.log.level, sink));
  return {
    running,
    config,
    dir,
    env,
    caPem: running.devCa ? await readFile(running.devCa, 'utf8') : '',
    logs,
    cli: (args) => runCli([...args, '--config', configFile], env),
    close: async () => {
      await running.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The certificate a TLS handshake with `servername` on 127.0.0.1:`port` gets, unverified. */
export function servedCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (raw) resolve(raw);
      else reject(new Error('no peer certificate'));
    });
    socket.on('error', reject);
  });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
