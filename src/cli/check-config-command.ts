import { randomBytes } from 'node:crypto';
import { unknownVariables } from '../config/env.ts';
import { ConfigError, imageDomain, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { readConfiguredSecrets } from '../registry/webhooks/subscriptions.ts';
import { readSigningSecret } from '../registry/trust/signing-secret.ts';
import { createStorage } from '../storage/create-storage.ts';
import { layout } from '../storage/layout.ts';
import type { CliValues } from './args.ts';

const out = (s: string) => process.stdout.write(s + '\n');

interface StorageCheck {
  backend: string;
  ok: boolean;
  error?: string;
}

/**
 * Loads the configuration itself, so that --json can report its problems; an
 * ACIHOST_ variable nothing reads is one of them (other commands only warn). With
 * `--connect`, it also proves the storage reachable, writable, readable and listable,
 * then removes its probe object. Exit 2 when the configuration is invalid (as for every
 * command), 1 when the storage check fails.
 */
export async function checkConfigCommand(values: CliValues): Promise<number> {
  let config: Config | undefined;
  // A misspelt variable leaves its setting at the default: here, that is a failure.
  const problems = unknownVariables(process.env);
  try {
    config = loadConfig({ file: values.config });
    // The webhook secrets the server would read at start, where a missing one stops it.
    readConfiguredSecrets(config.webhooks.subscriptions, imageDomain(config));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  // The signing secret, when set, as the server would read it (whether it opens the keys is for serve to say).
  try {
    readSigningSecret();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length > 0 || !config) {
    if (!values.json) throw new ConfigError(problems);
    out(JSON.stringify({ valid: false, problems }));
    return 2;
  }
  const storage = values.connect ? await checkStorage(config) : undefined;
  if (values.json) {
    out(JSON.stringify({ valid: true, problems: [], ...(storage && { storage }) }));
  } else {
    out('configuration is valid');
    if (storage?.ok) out(`storage (${storage.backend}) is reachable: write, read, list and delete work`);
    if (storage && !storage.ok) process.stderr.write(`acihost: storage (${storage.backend}) check failed: ${storage.error}\n`);
  }
  return storage && !storage.ok ? 1 : 0;
}

async function checkStorage(config: Config): Promise<StorageCheck> {
  const backend = config.storage.backend;
  let storage;
  try {
    storage = createStorage(config);
  } catch (e) {
    return { backend, ok: false, error: (e as Error).message ?? String(e) };
  }
  const key = `${layout.tmp}check-config-${randomBytes(8).toString('hex')}`;
  const probe = randomBytes(32);
  try {
    await storage.put(key, probe, { ifAbsent: true });
    const back = await storage.get(key);
    if (!back?.equals(probe)) return { backend, ok: false, error: 'the probe object read back differs from what was written' };
    let listed = false;
    for await (const o of storage.list(layout.tmp)) listed ||= o.key === key;
    if (!listed) return { backend, ok: false, error: 'the probe object is missing from a listing' };
    await storage.delete(key);
    if (await storage.stat(key)) return { backend, ok: false, error: 'the probe object is still there after delete' };
    return { backend, ok: true };
  } catch (e) {
    // Whatever the storage answered is the finding here, reported in one line.
    return { backend, ok: false, error: (e as Error).message ?? String(e) };
  } finally {
    await storage.delete(key).catch(() => undefined);
    await storage.close();
  }
}
