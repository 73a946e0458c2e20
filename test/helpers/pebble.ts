/**
 * Pebble, Let's Encrypt's ACME test CA (Debian's `pebble`), with its mock DNS
 * answering 127.0.0.1 for every name, through scripts/pebble.sh. Its ports are
 * fixed: one instance per machine, so only one test file uses it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/pebble.sh', import.meta.url).pathname;

export interface Pebble {
  directoryUrl: string;
  /** Signs pebble's own HTTPS listener: what acihost must trust to reach the directory. */
  directoryCaFile: string;
  /** The root of the certificates pebble issues (new at every start). */
  issuedRootPem: string;
  http01Port: number;
  tlsAlpn01Port: number;
  stop(): Promise<void>;
}

export async function startPebble(): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-pebble-'));
  const env = { ...process.env, D: join(dir, 'state') };
  await run(SCRIPT, ['start'], { env });
  const vars = Object.fromEntries(
    (await readFile(join(dir, 'state', 'env'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  return {
    directoryUrl: vars.ACME_DIRECTORY_URL!,
    directoryCaFile: vars.ACME_DIRECTORY_CA!,
    issuedRootPem: await readFile(vars.ACME_ISSUED_ROOT!, 'utf8'),
    http01Port: Number(vars.ACME_HTTP01_PORT),
    tlsAlpn01Port: Number(vars.ACME_TLSALPN01_PORT),
    async stop() {
      await run(SCRIPT, ['stop'], { env });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
