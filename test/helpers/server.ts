/**
 * Starts a real acihost over HTTPS for integration tests: a fresh storage
 * directory, a development CA made at test time, a free port, and a CLI runner
 * bound to the same configuration.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { httpsRequest, type HttpsRequestOptions, type HttpsResponse } from './tls.ts';

const run = promisify(execFile);
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

export interface TestServer {
  /** https://localhost:PORT, also the public URL, so the image domain is `localhost`. */
  origin: string;
  port: number;
  dir: string;
  storageDir: string;
  caFile: string;
  caPem: string;
  env: Record<string, string>;
  running: RunningServer;
  request(path: string, opts?: Omit<HttpsRequestOptions, 'ca'>): Promise<HttpsResponse>;
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Stops the server and starts a new one on the same port, storage and certificates, as a restart does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function runCli(args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

export async function startTestServer(
  opts: { env?: Record<string, string>; config?: Record<string, unknown>; certsDir?: string } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-test-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(opts.config ?? {}));
  const port = await freePort();
  const env: Record<string, string> = {
    ACIHOST_HOST: '127.0.0.1',
    ACIHOST_PORT: String(port),
    ACIHOST_PUBLIC_URL: `https://localhost:${port}`,
    ACIHOST_STORAGE_DIR: join(dir, 'storage'),
    ACIHOST_LOG_LEVEL: 'silent',
    ...opts.env,
  };
  const config = loadConfig({ env, file: configFile });
  config.tls.devCertsDir = opts.certsDir ?? join(dir, 'certs');
  const running = await startServer(config, createLogger(config.log.level));
  const caFile = join(config.tls.devCertsDir, 'ca.pem');
  const caPem = await readFile(caFile, 'utf8');
  const origin = `https://localhost:${port}`;
  const server: TestServer = {
    origin,
    port,
    dir,
    storageDir: env.ACIHOST_STORAGE_DIR!,
    caFile,
    caPem,
    env,
    running,
    request: (path, o = {}) => httpsRequest(origin + path, { ...o, ca: caPem }),
    cli: (args) => runCli([...args, '--config', configFile], env),
    restart: async () => {
      await server.running.close();
      server.running = await startServer(config, createLogger(config.log.level));
    },
    close: async () => {
      await server.running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
