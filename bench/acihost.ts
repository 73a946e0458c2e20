/**
 * acihost as the benchmark runs it: the production build (`node dist/cli.js
 * serve`, default configuration, access log at info to a file) pinned to the server
 * cores, on a storage directory of its own and the development certificate it
 * generates on first start. The default configuration starts a worker per core it
 * may use (a supervisor and its workers with more than one).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { serializeVersionRecord, type VersionRecord } from '../src/registry/catalog/version-record.ts';
import { layout } from '../src/storage/layout.ts';
import { childPids, coresIn, runPinned, settle, SERVER_CORE, spawnPinned, stopChild, waitFor } from './processes.ts';
import { MiB } from './stats.ts';

const run = promisify(execFile);
export const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

export interface Site {
  dir: string;
  port: number;
  /** https://127.0.0.1:PORT: what clients dial (the certificate names 127.0.0.1). */
  url: string;
  configFile: string;
  storageDir: string;
  certsDir: string;
  env: Record<string, string>;
}

/** A storage directory, a configuration and a port; `extraEnv` switches the backend (S3 mode). */
export async function prepareSite(dir: string, port: number, certsDir: string, extraEnv: Record<string, string> = {}): Promise<Site> {
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ tls: { devCertsDir: certsDir } }));
  const storageDir = join(dir, 'storage');
  const env = {
    ACIHOST_HOST: '127.0.0.1',
    ACIHOST_PORT: String(port),
    // The image domain is the public URL's host: names are localhost/...
    ACIHOST_PUBLIC_URL: `https://localhost:${port}`,
    ACIHOST_STORAGE_DIR: storageDir,
    // The bench restarts servers between turns, and no load balancer watches readiness here.
    ACIHOST_SHUTDOWN_DELAY_SECONDS: '0',
    // As the Dockerfile, the systemd unit and npm start launch it (docs/design.md).
    MALLOC_MMAP_THRESHOLD_: '131072',
    NODE_OPTIONS: '--max-semi-space-size=4',
    ...extraEnv,
  };
  return { dir, port, url: `https://127.0.0.1:${port}`, configFile, storageDir, certsDir, env };
}

/** Runs an acihost command against the site's configuration and storage; resolves with stdout. */
export async function acihostCli(site: Site, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--config', site.configFile], { env: { ...process.env, ...site.env } });
  return stdout;
}

/** Records it reads at exit: the process's own peak RSS, which no parent can read once it has gone. */
const USAGE_AT_EXIT = new URL('./usage-at-exit.ts', import.meta.url).pathname;

/** One CLI command on the server core: seconds from spawn to exit, and its peak RSS in MiB. */
export async function timedCommand(
  site: Site,
  args: string[],
  usageFile: string,
): Promise<{ seconds: number; rssMiB: number; stderr: string }> {
  const started = performance.now();
  const env = { ...process.env, ...site.env, BENCH_USAGE_FILE: usageFile };
  const { stderr } = await runPinned(
    SERVER_CORE,
    process.execPath,
    ['--import', USAGE_AT_EXIT, CLI, ...args, '--config', site.configFile],
    600_000,
    env,
  );
  const seconds = (performance.now() - started) / 1000;
  const { maxRSS } = JSON.parse(await readFile(usageFile, 'utf8')) as { maxRSS: number };
  return { seconds, rssMiB: (maxRSS * 1024) / MiB, stderr };
}

/** One GET over TLS with the site's CA; resolves with the status, headers and body. */
export function get(url: string, ca: string, timeoutMs = 5000): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export class AcihostProcess {
  readonly child: ChildProcess;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;
  private constructor(child: ChildProcess, spawnedAt: number) {
    this.child = child;
    this.spawnedAt = spawnedAt;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The started process and its workers, if it has any: each one's memory counts. */
  get pids(): number[] {
    return [this.pid, ...childPids(this.pid)];
  }

  /** Spawns `serve` on `cores` (a taskset CPU list) with its log appended to `logFile`; does not wait. */
  static spawn(site: Site, logFile: string, nodeArgs: string[] = [], cores = SERVER_CORE): AcihostProcess {
    const log = openSync(logFile, 'a');
    // The default number of workers (one per core) is what is measured, whatever this shell sets.
    const { ACIHOST_WORKERS: _workers, ...env } = process.env;
    try {
      const spawnedAt = performance.now();
      const child = spawnPinned(cores, process.execPath, [...nodeArgs, CLI, 'serve', '--config', site.configFile], {
        env: { ...env, ...site.env },
        stdio: ['ignore', log, log],
      });
      return new AcihostProcess(child, spawnedAt);
    } finally {
      closeSync(log);
    }
  }

  /** Spawns and waits until `GET /` answers 200 (the CA exists by then) and every worker has started. */
  static async start(site: Site, logFile: string, ca: () => string, nodeArgs: string[] = [], cpus = SERVER_CORE): Promise<AcihostProcess> {
    const p = AcihostProcess.spawn(site, logFile, nodeArgs, cpus);
    try {
      await waitFor('acihost answering', async () => (await get(`${site.url}/`, ca(), 1000)).status === 200, 60_000, 100);
      // The first worker answers while the others start: wait for a worker per core (the default).
      const cores = coresIn(cpus);
      if (cores > 1) {
        await waitFor(`acihost's ${cores} workers`, async () => childPids(p.pid).length >= cores, 30_000, 50).catch(() =>
          process.stderr.write(`bench: acihost started ${childPids(p.pid).length} worker processes on ${cores} cores\n`),
        );
      }
      await settle(p.pid);
    } catch (e) {
      await p.stop();
      throw new Error(`${(e as Error).message}; see ${logFile}`);
    }
    return p;
  }

  /** Stops the server and waits for its workers too: one still draining would hold the port and the cores. */
  async stop(): Promise<void> {
    const workers = childPids(this.pid);
    await stopChild(this.child, 40_000);
    await waitFor('acihost workers exiting', async () => workers.every((pid) => !existsSync(`/proc/${pid}`)), 45_000, 50);
  }
}

/** Writes `count` version records of names under localhost/fleet, as if pushed: what a big catalogue looks like on disk. */
export async function seedNames(storageDir: string, from: number, to: number): Promise<void> {
  const writes: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    const record: VersionRecord = {
      name: `localhost/fleet/svc${i}`,
      version: '1.0.0',
      os: 'linux',
      arch: 'amd64',
      imageId: 'sha512-' + '0'.repeat(128),
      digest: '0'.repeat(64),
      size: 1,
      uncompressedSize: 1,
      compression: 'gzip',
      signature: '',
      signer: '0'.repeat(40),
      tokenId: 'seed',
      pushedAt: new Date(0).toISOString(),
      blob: `blobs/seed${i}.aci`,
    };
    const file = join(storageDir, layout.versionRecord(record));
    writes.push(mkdir(dirname(file), { recursive: true }).then(() => writeFile(file, serializeVersionRecord(record))));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}
