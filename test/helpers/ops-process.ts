/**
 * `acihost serve` as a child process with a trusted gpg key and a push token
 * made through the CLI, for tests that send it real signals (SIGTERM, SIGINT,
 * SIGHUP) while traffic is in flight.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { buildAci } from './aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from './gpg.ts';
import { spawnServer, type ServerProcess } from './process-server.ts';
import { curlPush, type CurlResult } from './push.ts';
import { freePort, runCli } from './server.ts';

export interface OpsProcess {
  dir: string;
  storageDir: string;
  origin: string;
  port: number;
  env: Record<string, string>;
  /** The CA that clients trust (the development CA, or the one given). */
  caFile: string;
  proc: ServerProcess;
  gpg: Gpg;
  key: GpgKey;
  token: string;
  /** Writes a signed ACI of about `randomBytes` incompressible bytes; returns its paths. */
  makeImage(version: string, randomBytes: number): Promise<{ aci: string; asc: string }>;
  push(image: { aci: string; asc: string }, extraArgs?: string[]): Promise<CurlResult>;
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  close(): Promise<void>;
}

export async function startOpsProcess(
  opts: { config?: Record<string, unknown>; env?: Record<string, string>; caFile?: string; cli?: string } = {},
): Promise<OpsProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-proc-'));
  const port = await freePort();
  const origin = `https://localhost:${port}`;
  const configFile = join(dir, 'config.json');
  const config = { ...opts.config, tls: { devCertsDir: join(dir, 'certs'), ...(opts.config?.tls as object) } };
  await writeFile(configFile, JSON.stringify(config));
  const storageDir = join(dir, 'storage');
  const env = {
    ACIHOST_HOST: '127.0.0.1',
    ACIHOST_PORT: String(port),
    ACIHOST_PUBLIC_URL: origin,
    ACIHOST_STORAGE_DIR: storageDir,
    ACIHOST_LOG_LEVEL: 'info',
    ...opts.env,
  };
  const cli = (args: string[]) => runCli([...args, '--config', configFile], env);
  const gpg = await createGpg();
  const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
  await writeFile(join(dir, 'key.asc'), await gpg.exportPublic(key.fingerprint));
  assert.equal((await cli(['key', 'add', '--prefix', 'localhost', join(dir, 'key.asc')])).code, 0);
  const token = (await cli(['token', 'create', '--prefix', 'localhost'])).stdout.split('\n')[0]!;
  const caFile = opts.caFile ?? join(dir, 'certs', 'ca.pem');
  const proc = await spawnServer({ configFile, env, origin, caPem: () => readFile(caFile, 'utf8').catch(() => ''), cli: opts.cli });
  return {
    dir,
    storageDir,
    origin,
    port,
    env,
    caFile,
    proc,
    gpg,
    key,
    token,
    cli,
    async makeImage(version, size) {
      const aci = join(dir, `app-${version}.aci`);
      const body = randomBytes(size);
      await writeFile(aci, await buildAci({ name: 'localhost/app', version, entries: [{ name: 'rootfs/blob', body }] }));
      return { aci, asc: await gpg.signFile(aci, key.fingerprint) };
    },
    push: (image, extraArgs) => curlPush({ origin, caFile, token, ...image, extraArgs }),
    async close() {
      await proc.stop();
      await gpg.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
