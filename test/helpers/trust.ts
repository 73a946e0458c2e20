/**
 * Helpers for the trust-over-time tests: pushing with any key, waiting for a running
 * server to see a CLI change (within 2 s: docs/command-line.md#commands-and-exit-codes), and running acfetch.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildAci, type BuildAciOptions } from './aci-builder.ts';
import type { Fixture } from './fixture.ts';
import type { GpgKey } from './gpg.ts';
import { curlPush, type CurlResult } from './push.ts';

const run = promisify(execFile);
export const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;

let files = 0;

export interface SignedImage {
  aci: Buffer;
  aciPath: string;
  ascPath: string;
}

/** Builds an image and signs it with `key` (not necessarily the fixture's), as gpg users do. */
export async function signImage(f: Fixture, key: GpgKey, build: BuildAciOptions): Promise<SignedImage> {
  const aci = await buildAci(build);
  const aciPath = join(f.server.dir, `signed-${++files}.aci`);
  await writeFile(aciPath, aci);
  return { aci, aciPath, ascPath: await f.gpg.signFile(aciPath, key.fingerprint) };
}

/** Pushes signed files with the README's curl recipe and the fixture's token. */
export async function pushSigned(f: Fixture, image: SignedImage): Promise<CurlResult & { aci: Buffer }> {
  const res = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: image.aciPath, asc: image.ascPath });
  return { ...res, aci: image.aci };
}

export async function pushSignedBy(f: Fixture, key: GpgKey, build: BuildAciOptions): Promise<CurlResult & { aci: Buffer }> {
  return pushSigned(f, await signImage(f, key, build));
}

/** Retries `attempt` until `done` accepts its result, for at most `withinMs`; returns the last result. */
export async function eventually<T>(attempt: () => Promise<T>, done: (r: T) => boolean, withinMs = 2500): Promise<T> {
  const start = Date.now();
  for (;;) {
    const r = await attempt();
    if (done(r) || Date.now() - start > withinMs) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface AcfetchResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs acfetch (the rkt stand-in) against a test server's port with its CA. */
export async function acfetch(server: { caFile: string; port: number }, args: string[]): Promise<AcfetchResult> {
  try {
    const { stdout, stderr } = await run(ACFETCH, ['--cafile', server.caFile, '--port', String(server.port), ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
