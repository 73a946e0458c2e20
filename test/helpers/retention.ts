/**
 * Registries over a filesystem storage seeded with version records, for the retention
 * tests: opened as the CLI opens one (the catalogue read whole, no timers), so several
 * can share one storage directory as replicas do.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import type { VersionRecord } from '../../src/registry/catalog/version-record.ts';
import { Registry, registrySettings, type RegistryHooks } from '../../src/registry/registry.ts';
import { createStorage } from '../../src/storage/create-storage.ts';
import { seedRecords, versionRecord } from './records.ts';

export const DAY = 86_400_000;

/** Records and their blobs, as a server would have stored them (each blob `size` bytes). */
export async function seedVersions(storageDir: string, records: VersionRecord[]): Promise<void> {
  await seedRecords(storageDir, records);
  for (const r of records) {
    await mkdir(dirname(join(storageDir, r.blob)), { recursive: true });
    await writeFile(join(storageDir, r.blob), Buffer.alloc(r.size));
  }
}

/** A version of `name` pushed `ageMs` before `now`. */
export const pushedAgo = (name: string, version: string, ageMs: number, now: number, arch = 'amd64', seq = 0): VersionRecord =>
  versionRecord(name, { version, arch, pushedAt: new Date(now - ageMs).toISOString() }, seq);

/** A registry on `storageDir` under the image domain `localhost`, its catalogue loaded. */
export const openRegistry = (storageDir: string, hooks: RegistryHooks = {}): Promise<Registry> =>
  openRegistryWith({ ACIHOST_STORAGE_DIR: storageDir }, hooks);

/** The same over the storage the variables in `env` configure (an S3 bucket). */
export async function openRegistryWith(env: Record<string, string>, hooks: RegistryHooks = {}): Promise<Registry> {
  const config = loadConfig({ env: { ...env, ACIHOST_PUBLIC_URL: 'https://localhost:8443' } });
  const registry = new Registry(createStorage(config), registrySettings(config), createLogger('silent'), hooks);
  await registry.catalog.load();
  return registry;
}

/** `NAME VERSION OS ARCH` of each record, sorted: how tests compare sets of versions. */
export const labels = (records: { name: string; version: string; os: string; arch: string }[]): string[] =>
  records.map((r) => `${r.name} ${r.version} ${r.os} ${r.arch}`).sort();
