/**
 * A real acihost for tests that need a listener: in this process (startTestServer) or
 * as `acihost serve` in a child process (spawnServer, startServerProcess). Both are
 * set up alike by serverSetup: a fresh directory with a config file, a free port, a
 * development CA made at first start, the ACIHOST_* environment, and a CLI runner
 * bound to the same configuration.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, type X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { withRegistry } from '../../src/cli/open-registry.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/logger.ts';
import { TokenManager } from '../../src/registry/access/token-admin.ts';
import type { Registry } from '../../src/registry/registry.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { buildAci } from './aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from './gpg.ts';
import { curlPush, type CurlResult } from './push.ts';
import { tempDir } from './temp-dir.ts';
import { httpsRequest, type HttpsRequestOptions, type HttpsResponse } from './tls.ts';

const run = promisify(execFile);
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
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

export async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

export interface SetupOptions {
  /** Variables over the defaults (loopback, a free port, https://localhost:PORT, storage in the directory, info logs). */
  env?: Record<string, string>;
  /** The config file; tls.devCertsDir is the directory's certs/, server.shutdownDelaySeconds 0, unless it says otherwise. */
  config?: Record<string, unknown>;
  /** The directory to work in, kept at close; a fresh temporary one by default. */
  dir?: string;
  /** Where the development CA lives, e.g. one shared by replicas. */
  certsDir?: string;
  /** The CA clients trust, when the server is given a certificate of another CA. */
  caFile?: string;
}

export interface ServerSetup {
  dir: string;
  /** Whether the directory was made here (and is removed at close). */
  ownsDir: boolean;
  configFile: string;
  port: number;
  /** https://localhost:PORT, where tests reach the server; also the public URL unless env names another. */
  origin: string;
  storageDir: string;
  caFile: string;
  env: Record<string, string>;
  cli(args: string[]): Promise<CliResult>;
}

/** The directory, config file, port and environment of one server, for either kind of start. */
export async function serverSetup(opts: SetupOptions = {}): Promise<ServerSetup> {
  const dir = opts.dir ?? (await tempDir('acihost-test-'));
  const port = opts.env?.ACIHOST_PORT ? Number(opts.env.ACIHOST_PORT) : await freePort();
  const origin = `https://localhost:${port}`;
  const certsDir = opts.certsDir ?? join(dir, 'certs');
  const configFile = join(dir, 'config.json');
  const tls = { devCertsDir: certsDir, ...(opts.config?.tls as object | undefined) };
  // No readiness delay on SIGTERM unless a test asks for one: no load balancer is watching.
  const server = { shutdownDelaySeconds: 0, ...(opts.config?.server as object | undefined) };
  await writeFile(configFile, JSON.stringify({ ...opts.config, server, tls }));
  const env: Record<string, string> = {
    ACIHOST_HOST: '127.0.0.1',
    ACIHOST_PORT: String(port),
    ACIHOST_PUBLIC_URL: origin,
    ACIHOST_STORAGE_DIR: join(dir, 'storage'),
    ACIHOST_LOG_LEVEL: 'info',
    // One process, as the development server: tests of several workers ask for them.
    ACIHOST_WORKERS: '1',
    ...opts.env,
  };
  return {
    dir,
    ownsDir: !opts.dir,
    configFile,
    port,
    origin,
    storageDir: env.ACIHOST_STORAGE_DIR!,
    caFile: opts.caFile ?? join(certsDir, 'ca.pem'),
    env,
    cli: (args) => runCli([...args, '--config', configFile], env),
  };
}

const removeDir = (setup: ServerSetup) => (setup.ownsDir ? rm(setup.dir, { recursive: true, force: true }) : undefined);

export interface TestServer extends ServerSetup {
  config: Config;
  running: RunningServer;
  /** The CA's certificate ('' when the server uses a certificate of no CA the setup knows). */
  caPem: string;
  /** Every log line the server wrote, parsed (with `logs: true`). */
  logs: Record<string, any>[];
  request(path: string, opts?: Omit<HttpsRequestOptions, 'ca'>): Promise<HttpsResponse>;
  /** Stops the server and starts a new one on the same port, storage and certificates, as a restart does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Starts acihost in this process. Logs are off unless `logs` keeps them (at info) for the test to read. */
export async function startTestServer(opts: SetupOptions & { logs?: boolean } = {}): Promise<TestServer> {
  const setup = await serverSetup({ ...opts, env: { ACIHOST_LOG_LEVEL: opts.logs ? 'info' : 'silent', ...opts.env } });
  const config = loadConfig({ env: setup.env, file: setup.configFile });
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const start = () => startServer(config, createLogger(config.log.level, sink));
  const running = await start();
  const caFile = running.devCa ?? setup.caFile;
  const caPem = await readFile(caFile, 'utf8').catch(() => '');
  const server: TestServer = {
    ...setup,
    config,
    running,
    caFile,
    caPem,
    logs,
    request: (path, o = {}) => httpsRequest(setup.origin + path, { ...o, ca: caPem }),
    restart: async () => {
      await server.running.close();
      server.running = await start();
    },
    close: async () => {
      await server.running.close();
      await removeDir(setup);
    },
  };
  return server;
}

export interface ServerProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/**
 * `acihost serve` over `setup` in a child process, resolved once it answers; `env` goes
 * on top of the setup's (fault injection), `cli` names another CLI (a built dist/cli.js).
 */
export async function spawnServer(setup: ServerSetup, opts: { env?: Record<string, string>; cli?: string } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [opts.cli ?? CLI, 'serve', '--config', setup.configFile], {
    env: { ...process.env, ...setup.env, ...opts.env },
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
      const ca = await readFile(setup.caFile, 'utf8').catch(() => '');
      const res = await httpsRequest(`${setup.origin}/`, { ca, timeoutMs: 1000 });
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

export interface ProcessServer extends ServerSetup {
  proc: ServerProcess;
  gpg: Gpg;
  key: GpgKey;
  token: string;
  /** Writes a signed ACI of about `randomBytes` incompressible bytes; returns its paths. */
  makeImage(version: string, randomBytes: number): Promise<{ aci: string; asc: string }>;
  push(image: { aci: string; asc: string }, extraArgs?: string[]): Promise<CurlResult>;
  close(): Promise<void>;
}

/**
 * Trusts `publicKey` (armored) for `prefix` and makes a push token for it, through the
 * services the CLI calls; returns the token. `actor` names the maker in the audit log.
 */
export async function trustWithPushToken(registry: Registry, prefix: string, publicKey: string, actor: string): Promise<string> {
  await registry.keys.add(prefix, publicKey);
  const request = { prefixes: [prefix], scopes: ['push' as const], name: '', expiresInSeconds: undefined };
  return (await registry.tokenAdmin.create(TokenManager.operator(actor), request)).token;
}

/**
 * `acihost serve` as a child process with a gpg key trusted for `localhost` and a push
 * token, for tests that send it real signals while traffic is in flight. The key and the
 * token are stored before it starts, through a registry of this process over its storage,
 * as the CLI stores them (test/helpers/fixture.ts says why not through the CLI).
 */
export async function startServerProcess(opts: SetupOptions & { cli?: string } = {}): Promise<ProcessServer> {
  const setup = await serverSetup(opts);
  const gpg = await createGpg();
  const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
  await mkdir(setup.storageDir, { recursive: true });
  const publicKey = await gpg.exportPublic(key.fingerprint);
  const token = await withRegistry(loadConfig({ env: setup.env, file: setup.configFile }), (registry) =>
    trustWithPushToken(registry, 'localhost', publicKey, 'test:server-process'),
  );
  const proc = await spawnServer(setup, { cli: opts.cli });
  return {
    ...setup,
    proc,
    gpg,
    key,
    token,
    async makeImage(version, size) {
      const aci = join(setup.dir, `app-${version}.aci`);
      await writeFile(aci, await buildAci({ name: 'localhost/app', version, entries: [{ name: 'rootfs/blob', body: randomBytes(size) }] }));
      return { aci, asc: await gpg.signFile(aci, key.fingerprint) };
    },
    push: (image, extraArgs) => curlPush({ origin: setup.origin, caFile: setup.caFile, token, ...image, extraArgs }),
    async close() {
      await proc.stop();
      await gpg.cleanup();
      await removeDir(setup);
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
