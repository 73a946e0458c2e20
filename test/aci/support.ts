/** Shared helpers for the src/aci tests. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAcihostError } from '../../src/errors.ts';
import type { ErrorKind } from '../../src/errors.ts';
import { createInspector } from '../../src/aci/inspect.ts';
import type { InspectLimits, InspectResult } from '../../src/aci/inspect.ts';

export const LIMITS: InspectLimits = {
  maxUncompressedBytes: 64 * 1024 * 1024,
  maxEntries: 10_000,
  maxManifestBytes: 64 * 1024,
  maxPathBytes: 1024,
};

/** Splits a buffer into chunks of `size` bytes (the last one shorter). */
export function chunked(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** Streams an archive through a fresh inspector, as an upload would. */
export async function inspect(data: Buffer, limits: Partial<InspectLimits> = {}, chunkSize = 64 * 1024): Promise<InspectResult> {
  const { sink, result } = createInspector({ ...LIMITS, ...limits });
  const fed = pipeline(Readable.from(chunked(data, chunkSize)), sink);
  fed.catch(() => {}); // the verdict comes from `result`
  return result;
}

/** Asserts that a promise rejects with an AcihostError of this code (and kind). */
export async function rejectsWith(p: Promise<unknown>, code: string, kind?: ErrorKind): Promise<Error> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}, but it succeeded`),
    (e: unknown) => {
      caught = e;
    },
  );
  assert.ok(isAcihostError(caught), `expected an AcihostError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (kind !== undefined) assert.equal(caught.kind, kind);
  return caught;
}

/** bzip2/xz processes that are children of this test process. */
export function decoderChildren(): string[] {
  const mine = String(process.pid);
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
        return ppid === mine && (comm === 'bzip2' || comm === 'xz') ? [`${pid} ${comm}`] : [];
      } catch {
        return []; // it exited while we looked
      }
    });
}

export const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rewrites the ustar header of entry `name` in a plain tar, fixing its checksum. */
export function patchTarHeader(tar: Buffer, name: string, patch: (header: Buffer) => void): Buffer {
  const out = Buffer.from(tar);
  for (let at = 0; at + 512 <= out.length;) {
    const header = out.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '') === name) {
      patch(header);
      header.fill(0x20, 148, 156);
      const sum = header.reduce((a, b) => a + b, 0);
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      return out;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no tar entry named ${name}`);
}
