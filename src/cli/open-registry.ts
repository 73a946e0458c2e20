import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { Registry, registrySettings, type RegistryHooks } from '../registry/registry.ts';
import { heapTuning } from '../runtime/heap-policy.ts';
import { createStorage } from '../storage/create-storage.ts';
import type { Storage } from '../storage/storage.ts';

/**
 * The filesystem storage is found relative to the working directory unless it is
 * configured: a command run elsewhere would read an empty catalogue, or start a new
 * one, with nothing to say that it is not the server's. Say so.
 */
function warnOfMissingStorage(config: Config): void {
  if (config.storage.backend !== 'fs' || existsSync(config.storage.dir)) return;
  process.stderr.write(
    `acihost: warning: no storage at ${resolve(config.storage.dir)}; to work on a server's, ` +
      'run this where it runs or set ACIHOST_STORAGE_DIR to its storage directory\n',
  );
}

/**
 * A registry over the configured storage for one CLI command: no polling, no sweep.
 * `wrap` puts a layer around the storage (the import's dry run); `hooks` lend it more (the signing secret).
 */
export async function withRegistry<T>(
  config: Config,
  act: (registry: Registry, storage: Storage) => Promise<T>,
  wrap: (storage: Storage) => Storage = (s) => s,
  hooks: RegistryHooks = {},
): Promise<T> {
  warnOfMissingStorage(config);
  const storage = wrap(createStorage(config));
  const registry = new Registry(storage, registrySettings(config), createLogger('warn', process.stderr as never), {
    onBytes: heapTuning().streamed,
    ...hooks,
  });
  try {
    return await act(registry, storage);
  } finally {
    await registry.close();
  }
}
