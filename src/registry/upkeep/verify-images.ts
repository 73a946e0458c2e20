/**
 * `acihost verify`: re-reads every published image and checks what clients rely on: the
 * bytes still hash to the stored digest, size and image ID; the stored `.aci.asc` has the
 * CRC24 armor line rkt needs and verifies against a key this server trusts (or trusted, for
 * retired keys) for the name; the manifest still passes validation and names the same
 * version, os and arch. One read per image, streamed, so memory stays flat.
 */
import { createInspector, type InspectLimits, type InspectResult } from '../../aci/inspect.ts';
import { publishLabels } from '../../aci/manifest.ts';
import type { ErrorCode } from '../../error-codes.ts';
import { isAcihostError } from '../../errors.ts';
import { hasValidArmorChecksum, readDetachedSignature } from '../../signing/signature.ts';
import { createVerifier, type VerifyResult } from '../../signing/verifier.ts';
import { layout } from '../../storage/layout.ts';
import { KeyNotFoundError, type Storage } from '../../storage/storage.ts';
import type { Coordinates } from '../catalog/catalog.ts';
import { fanOut } from './fan-out.ts';
import type { KeyStore } from '../trust/keyring.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import { storedVersions } from '../catalog/version-records.ts';

/** What only verification finds; the other problems carry the code of the check that failed again. */
type VerifyProblemCode =
  | 'RECORD_UNREADABLE'
  | 'IMAGE_MISSING'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_SIZE_MISMATCH'
  | 'IMAGE_DIGEST_MISMATCH'
  | 'IMAGE_ID_MISMATCH'
  | 'ARCHIVE_INVALID'
  | 'MANIFEST_COORDINATES_MISMATCH'
  | 'SIGNATURE_ARMOR_CHECKSUM'
  | 'SIGNER_MISMATCH';

export interface Problem {
  code: ErrorCode | VerifyProblemCode;
  message: string;
}

export interface VersionCheck extends Coordinates {
  /** Bytes read from storage for this version. */
  bytes: number;
  problems: Problem[];
}

const problemOf = (e: unknown, fallback: Problem['code']): Problem =>
  isAcihostError(e) ? { code: e.code, message: e.message } : { code: fallback, message: (e as Error)?.message ?? String(e) };

/** Checks every published version (under `prefix`, if given), yielding one result per version. */
export type VerifyLimits = InspectLimits;

export async function* verifyImages(opts: {
  storage: Storage;
  keys: KeyStore;
  limits: VerifyLimits;
  prefix?: string;
  /** Hears the size of every chunk read (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
}): AsyncGenerator<VersionCheck> {
  await opts.keys.mirror.refresh();
  for await (const stored of storedVersions(opts.storage, opts.prefix)) {
    if ('error' in stored) {
      const coords = layout.parseVersionRecord(stored.key)!;
      yield { ...coords, bytes: 0, problems: [problemOf(stored.error, 'RECORD_UNREADABLE')] };
      continue;
    }
    yield await checkVersion(opts, stored.record);
  }
}

async function checkVersion(
  { storage, keys, limits, onBytes }: { storage: Storage; keys: KeyStore; limits: VerifyLimits; onBytes?: (bytes: number) => void },
  record: VersionRecord,
): Promise<VersionCheck> {
  const { name, version, os, arch } = record;
  const problems: Problem[] = [];
  const signature = await readStoredSignature(record, problems);
  const inspector = createInspector(limits);
  const verifier = signature ? createVerifier(signature, keys.verificationKeys(), { name, onBytes }) : undefined;
  let read: { digest: string; size: number };
  try {
    read = await fanOut(await storage.read(record.blob), verifier ? [inspector.sink, verifier.sink] : [inspector.sink]);
  } catch (e) {
    inspector.sink.destroy();
    verifier?.sink.destroy();
    const missing = e instanceof KeyNotFoundError;
    problems.push(
      missing
        ? { code: 'IMAGE_MISSING', message: `the image bytes (${record.blob}) are missing from storage; restore them from a backup` }
        : problemOf(e, 'IMAGE_UNREADABLE'),
    );
    return { name, version, os, arch, bytes: 0, problems };
  }
  problems.push(...checkBytes(record, read));
  const [inspection, verdict] = await Promise.allSettled([inspector.result, verifier?.result]);
  if (inspection.status === 'rejected') problems.push(problemOf(inspection.reason, 'ARCHIVE_INVALID'));
  else problems.push(...checkInspection(record, inspection.value));
  if (verdict.status === 'rejected') problems.push(problemOf(verdict.reason, 'SIGNATURE_MISMATCH'));
  else if (verdict.value) problems.push(...checkSigner(record, verdict.value, keys));
  return { name, version, os, arch, bytes: read.size, problems };
}

async function readStoredSignature(record: VersionRecord, problems: Problem[]) {
  if (!hasValidArmorChecksum(record.signature)) {
    problems.push({
      code: 'SIGNATURE_ARMOR_CHECKSUM',
      message:
        "the stored .aci.asc lacks a valid CRC24 armor line, which rkt's reader requires, so rkt cannot verify this image; restore its version record from a backup",
    });
  }
  try {
    return await readDetachedSignature(Buffer.from(record.signature));
  } catch (e) {
    problems.push(problemOf(e, 'SIGNATURE_UNREADABLE'));
    return undefined;
  }
}

function checkBytes(record: VersionRecord, read: { digest: string; size: number }): Problem[] {
  const out: Problem[] = [];
  if (read.size !== record.size) {
    out.push({ code: 'IMAGE_SIZE_MISMATCH', message: `the stored image is ${read.size} bytes, but ${record.size} were published` });
  }
  if (read.digest !== record.digest) {
    out.push({
      code: 'IMAGE_DIGEST_MISMATCH',
      message: `the stored image's sha256 is ${read.digest}, not the published ${record.digest}: its bytes changed; restore them from a backup`,
    });
  }
  return out;
}

function checkInspection(record: VersionRecord, inspection: InspectResult): Problem[] {
  const out: Problem[] = [];
  if (inspection.imageId !== record.imageId) {
    out.push({ code: 'IMAGE_ID_MISMATCH', message: `the image ID is now ${inspection.imageId}, not the published ${record.imageId}` });
  }
  const { manifest } = inspection;
  try {
    const labels = publishLabels(manifest);
    const now = `${manifest.name} ${labels.version} ${labels.os}/${labels.arch}`;
    if (now !== `${record.name} ${record.version} ${record.os}/${record.arch}`) {
      out.push({ code: 'MANIFEST_COORDINATES_MISMATCH', message: `the manifest now names ${now}` });
    }
  } catch (e) {
    out.push(problemOf(e, 'MANIFEST_INVALID'));
  }
  return out;
}

function checkSigner(record: VersionRecord, verdict: VerifyResult, keys: KeyStore): Problem[] {
  const signer = verdict.signerFingerprint;
  if (!keys.covering(record.name).some(({ record: k }) => k.fingerprint === signer)) {
    return [
      {
        code: 'SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME',
        message: `the signature was made by key ${signer}, which is no longer trusted for ${record.name}, so clients that discover keys here cannot verify it; trust the key again (acihost key add) or re-sign`,
      },
    ];
  }
  if (signer !== record.signer) {
    return [
      { code: 'SIGNER_MISMATCH', message: `the signature was made by key ${signer}, but key ${record.signer} was recorded at publish` },
    ];
  }
  return [];
}
