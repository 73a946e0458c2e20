import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { serializeVersionRecord, type VersionRecord } from '../../src/registry/catalog/version-record.ts';
import { layout } from '../../src/storage/layout.ts';

/**
 * A well-formed version record for index and page tests (nothing behind it is
 * fetched); `overrides` sets any field, `seq` varies the image ID and blob key.
 */
export function versionRecord(name: string, overrides: Partial<VersionRecord> = {}, seq = 0): VersionRecord {
  const version = overrides.version ?? '1.0.0';
  const arch = overrides.arch ?? 'amd64';
  return {
    name,
    version,
    os: 'linux',
    arch,
    imageId: 'sha512-' + String(seq % 10).repeat(128),
    digest: '0'.repeat(64),
    size: 2048,
    uncompressedSize: 4096,
    compression: 'gzip',
    signature: '',
    signer: 'a'.repeat(40),
    tokenId: 'seed',
    pushedAt: new Date(0).toISOString(),
    blob: `blobs/${name.replaceAll('/', '-')}-${version}-${arch}-${seq}.aci`,
    ...overrides,
  };
}

/** Writes records straight into a filesystem storage directory, as a server would have. */
export async function seedRecords(storageDir: string, records: VersionRecord[]): Promise<void> {
  await Promise.all(
    records.map(async (r) => {
      const file = join(storageDir, layout.versionRecord(r));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, serializeVersionRecord(r));
    }),
  );
}
