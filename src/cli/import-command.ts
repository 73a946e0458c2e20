import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { prefixCovers } from '../aci/name.ts';
import type { Config } from '../config/schema.ts';
import { invalid, isAcihostError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { importImage, scanTree, type ImportOutcome, type TreeScan } from '../registry/importer.ts';
import { pubkeysTags } from '../registry/legacy-index.ts';
import { Registry } from '../registry/registry.ts';
import { parsePublicKeys } from '../signing/keys.ts';
import { createStorage } from '../storage/create-storage.ts';
import { DryRunStorage } from '../storage/dry-run-storage.ts';
import { usageError, type CliValues } from './args.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');
const MAX_INDEX_BYTES = 1024 * 1024;

/**
 * `acihost import DIR [--dry-run] [--trust-keys PREFIX]`: shows the keys and index.html
 * hints found in DIR, trusts the keys when asked, then publishes each .aci and prints one
 * line per file. A dry run does all of it over storage that forgets every write.
 * Exit 1 when any file was refused, so a migration script notices.
 */
export async function importCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const [dir, ...extra] = args;
  if (!dir || extra.length > 0) throw usageError('import needs exactly one DIR');
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw usageError(`${dir} is not a directory`);
  const dryRun = values['dry-run'] === true;
  const scan = await scanTree(dir);
  const real = createStorage(config);
  const registry = new Registry(config, createLogger('warn', process.stderr as never), {
    storage: dryRun ? new DryRunStorage(real) : real,
  });
  try {
    if (dryRun) out('dry run: nothing will be stored');
    await showIndexHints(dir, scan, registry.domain, values['trust-keys']);
    await showAndTrustKeys(registry, dir, scan, values['trust-keys']);
    await registry.keys.list(); // load the trusted keys once: the CLI registry does not poll
    const counts = { published: 0, present: 0, refused: 0 };
    for (const file of scan.images) {
      const outcome = await importImage(registry, dir, file);
      counts[outcome.status]++;
      out(describe(outcome, dryRun));
    }
    const published = dryRun ? 'would be published' : 'published';
    out(
      `${scan.images.length} image files: ${counts.published} ${published}, ${counts.present} already present, ${counts.refused} refused`,
    );
    return counts.refused > 0 ? 1 : 0;
  } finally {
    await registry.close();
  }
}

function describe(o: ImportOutcome, dryRun: boolean): string {
  if (o.status === 'refused') return `refused    ${o.file}: ${o.message} (${o.code})`;
  const what = `${o.record.name} ${o.record.version} ${o.record.os}/${o.record.arch}`;
  if (o.status === 'present') return `present    ${o.file}: ${what}, already published with these bytes`;
  return `${dryRun ? 'would publish' : 'published'}  ${o.file}: ${what}, signed by ${o.record.signer}`;
}

/** The prefixes a classic index.html trusted its keys for, as candidates for --trust-keys. */
async function showIndexHints(dir: string, scan: TreeScan, domain: string, trustPrefix: string | undefined): Promise<void> {
  for (const file of scan.indexFiles) {
    const html = (await readFile(join(dir, file))).subarray(0, MAX_INDEX_BYTES).toString('utf8');
    for (const tag of pubkeysTags(html)) {
      const note = prefixCovers(domain, tag.prefix) ? '' : ` (outside this server's domain ${domain}: images named there are refused)`;
      out(`${file}: ac-discovery-pubkeys trusts ${tag.url} for ${tag.prefix}${note}`);
      if (!trustPrefix && scan.keyFiles.length > 0 && !note) out(`  to trust the keys found here for it: --trust-keys ${tag.prefix}`);
    }
  }
}

/** Prints each key of each pubkeys.gpg; with --trust-keys, trusts them all for that prefix first. */
async function showAndTrustKeys(registry: Registry, dir: string, scan: TreeScan, prefix: string | undefined): Promise<void> {
  if (prefix && scan.keyFiles.length === 0) {
    throw invalid(
      'IMPORT_NO_KEYS_FILE',
      `--trust-keys was given, but there is no pubkeys.gpg under ${dir}; add the keys with acihost key add`,
    );
  }
  for (const file of scan.keyFiles) {
    const bytes = await readFile(join(dir, file));
    let keys;
    try {
      keys = await parsePublicKeys(bytes);
    } catch (e) {
      if (prefix || !isAcihostError(e)) throw e;
      err(`warning: ${file} cannot be trusted: ${e.message}`);
      continue;
    }
    for (const k of keys) out(`${file}: key ${k.fingerprint} ${k.algorithm} ${k.userIds[0] ?? ''}`);
    if (!prefix) {
      out(`  not trusted: check these fingerprints, then run again with --trust-keys PREFIX to trust them`);
      continue;
    }
    for (const { info, prefixes } of await registry.keys.add(prefix, bytes)) {
      for (const w of info.warnings) err(`warning: ${info.fingerprint}: ${w}`);
      out(`  trusted ${info.fingerprint} for ${prefixes.join(', ')}`);
    }
  }
}
