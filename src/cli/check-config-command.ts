import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import { createStorage } from '../storage/create-storage.ts';
import { layout } from '../storage/layout.ts';

const out = (s: string) => process.stdout.write(s + '\n');

/**
 * The configuration already parsed when this runs. With `--connect`, it also
 * proves the storage reachable, writable, readable and listable, then removes
 * its probe object.
 */
export async function checkConfigCommand(config: Config, connect: boolean): Promise<number> {
  out('configuration is valid');
  if (!connect) return 0;
  const storage = createStorage(config);
  const key = `${layout.tmp}check-config-${randomBytes(8).toString('hex')}`;
  const probe = randomBytes(32);
  try {
    await storage.put(key, probe, { ifAbsent: true });
    const back = await storage.get(key);
    if (!back?.equals(probe)) throw new Error('the probe object read back differs from what was written');
    let listed = false;
    for await (const o of storage.list(layout.tmp)) listed ||= o.key === key;
    if (!listed) throw new Error('the probe object is missing from a listing');
    await storage.delete(key);
    if (await storage.stat(key)) throw new Error('the probe object is still there after delete');
    out(`storage (${config.storage.backend}) is reachable: write, read, list and delete work`);
    return 0;
  } finally {
    await storage.delete(key).catch(() => undefined);
    await storage.close();
  }
}
