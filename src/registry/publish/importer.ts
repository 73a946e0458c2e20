/**
 * `acihost import DIR`: moves a classic static ACI host (any layout of `.aci` files with
 * `.aci.asc` beside them, a `pubkeys.gpg`, a hand-written `index.html`) into the registry.
 * Every image goes through the same staging, validation, signature check and atomic
 * publish as a push, so an import is as safe to run again as a CI retry.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isAcihostError } from '../../errors.ts';
import { MAX_SIGNATURE_BYTES } from '../../signing/signature.ts';
import { operatorToken } from '../access/operator-token.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import type { PushService } from './push-service.ts';

export interface TreeScan {
  images: string[];
  keyFiles: string[];
  indexFiles: string[];
}

export type ImportOutcome =
  | { file: string; status: 'published' | 'present'; record: VersionRecord }
  | { file: string; status: 'refused'; code: string; message: string };

/** Every .aci, pubkeys.gpg and index.html under `dir`, relative and sorted. File symlinks are followed, directory ones not. */
export async function scanTree(dir: string): Promise<TreeScan> {
  const scan: TreeScan = { images: [], keyFiles: [], indexFiles: [] };
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    const path = join(e.parentPath, e.name);
    const isFile = e.isFile() || (e.isSymbolicLink() && (await stat(path).catch(() => null))?.isFile() === true);
    if (!isFile) continue;
    const rel = relative(dir, path);
    if (e.name.endsWith('.aci')) scan.images.push(rel);
    else if (e.name === 'pubkeys.gpg') scan.keyFiles.push(rel);
    else if (e.name === 'index.html') scan.indexFiles.push(rel);
  }
  for (const list of Object.values(scan)) list.sort();
  return scan;
}

/** Publishes one image of the tree; refusals are results, anything else (storage down) is thrown. */
export async function importImage(pushes: PushService, domain: string, dir: string, file: string): Promise<ImportOutcome> {
  const operator = operatorToken(domain, 'import');
  const push = pushes.begin(operator, new AbortController().signal); // a file ends or fails on its own
  try {
    await push.admit((await stat(join(dir, file))).size);
    try {
      const signature = await signatureBeside(join(dir, file));
      if (signature) await push.sign(signature);
      await push.stage(createReadStream(join(dir, file)));
    } catch (e) {
      await push.refuse(e);
      throw e;
    }
    const result = await push.publish(async () => operator);
    return { file, status: result.outcome === 'created' ? 'published' : 'present', record: result.record };
  } catch (e) {
    if (!isAcihostError(e)) throw e;
    const message =
      e.code === 'SIGNATURE_MISSING'
        ? `no signature ${file}.asc beside the image; sign it with gpg --armor --detach-sign ${file} and run the import again`
        : e.message;
    return { file, status: 'refused', code: e.code, message };
  }
}

/** The bytes of `FILE.aci.asc`, read as a push's signature part is (at most 64 KiB), or undefined when absent. */
async function signatureBeside(aci: string): Promise<Buffer | undefined> {
  const handle = await open(`${aci}.asc`).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!handle) return undefined;
  try {
    const buffer = Buffer.alloc(MAX_SIGNATURE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
