import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { prefixCovers } from '../names.ts';
import type { Config } from '../config/schema.ts';
import { invalid, isAcihostError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { importImage, scanTree, type ImportOutcome, type TreeScan } from '../registry/publish/importer.ts';
import { pubkeysTags } from './legacy-index.ts';
import { Registry, registrySettings } from '../registry/registry.ts';
import { heapTuning } from '../runtime/heap-policy.ts';
import { parsePublicKeys } from '../signing/keys.ts';
import { createStorage } from '../storage/create-storage.ts';
import { DryRunStorage } from '../storage/dry-run-storage.ts';
import { usageError, type CliValues } from './args.ts';

const err = (s: string) => process.stderr.write(s + '\n');
const MAX_INDEX_BYTES = 1024 * 1024;

type ImageEntry =
  | { file: string; status: 'published' | 'present'; name: string; version: string; os: string; arch: string; signer: string }
  | { file: string; status: 'refused'; code: string; message: string };

/** What --json prints: the same findings as the text lines, in one object. */
interface ImportReport {
  dir: string;
  dryRun: boolean;
  hints: { file: string; url: string; prefix: string; insideDomain: boolean }[];
  keys: { file: string; fingerprint: string; algorithm: string; userId: string | null; trustedFor: string[] }[];
  images: ImageEntry[];
  published: number;
  present: number;
  refused: number;
}

/**
 * `acihost import DIR [--dry-run] [--trust-keys PREFIX] [--json]`: shows the keys and
 * index.html hints found in DIR, trusts the keys when asked, then publishes each .aci and
 * prints one line per file as it goes (with --json, one object at the end). A dry run does
 * all of it over storage that forgets every write. Exit 1 when any file was refused, so a
 * migration script notices.
 */
export async function importCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const dir = args[0]!;
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw usageError(`${dir} is not a directory`);
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  const out = json ? () => {} : (s: string) => process.stdout.write(s + '\n');
  const report: ImportReport = { dir, dryRun, hints: [], keys: [], images: [], published: 0, present: 0, refused: 0 };
  const scan = await scanTree(dir);
  const real = createStorage(config);
  const log = createLogger('warn', process.stderr as never);
  // Images stream through as a push's do: their dead buffers are freed as they go.
  const registry = new Registry(dryRun ? new DryRunStorage(real) : real, registrySettings(config), log, { onBytes: heapTuning().streamed });
  try {
    if (dryRun) out('dry run: nothing will be stored');
    await showIndexHints(dir, scan, registry.domain, values['trust-keys'], report, out);
    await showAndTrustKeys(registry, dir, scan, values['trust-keys'], report, out);
    await registry.keys.list(); // load the trusted keys once: the CLI registry does not poll
    for (const file of scan.images) {
      const outcome = await importImage(registry.pushes, registry.domain, dir, file);
      report[outcome.status]++;
      report.images.push(entry(outcome));
      out(describe(outcome, dryRun));
    }
    const published = dryRun ? 'would be published' : 'published';
    out(
      `${scan.images.length} image files: ${report.published} ${published}, ${report.present} already present, ${report.refused} refused`,
    );
    if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return report.refused > 0 ? 1 : 0;
  } finally {
    await registry.close();
  }
}

function entry(o: ImportOutcome): ImageEntry {
  if (o.status === 'refused') return { file: o.file, status: o.status, code: o.code, message: o.message };
  const { name, version, os, arch, signer } = o.record;
  return { file: o.file, status: o.status, name, version, os, arch, signer };
}

function describe(o: ImportOutcome, dryRun: boolean): string {
  if (o.status === 'refused') return `refused    ${o.file}: ${o.message} (${o.code})`;
  const what = `${o.record.name} ${o.record.version} ${o.record.os}/${o.record.arch}`;
  if (o.status === 'present') return `present    ${o.file}: ${what}, already published with these bytes`;
  return `${dryRun ? 'would publish' : 'published'}  ${o.file}: ${what}, signed by ${o.record.signer}`;
}

/** The prefixes a classic index.html trusted its keys for, as candidates for --trust-keys. */
async function showIndexHints(
  dir: string,
  scan: TreeScan,
  domain: string,
  trustPrefix: string | undefined,
  report: ImportReport,
  out: (s: string) => void,
): Promise<void> {
  for (const file of scan.indexFiles) {
    const html = (await readFile(join(dir, file))).subarray(0, MAX_INDEX_BYTES).toString('utf8');
    for (const tag of pubkeysTags(html)) {
      const insideDomain = prefixCovers(domain, tag.prefix);
      report.hints.push({ file, url: tag.url, prefix: tag.prefix, insideDomain });
      const note = insideDomain ? '' : ` (outside this server's domain ${domain}: images named there are refused)`;
      out(`${file}: ac-discovery-pubkeys trusts ${tag.url} for ${tag.prefix}${note}`);
      if (!trustPrefix && scan.keyFiles.length > 0 && insideDomain)
        out(`  to trust the keys found here for it: --trust-keys ${tag.prefix}`);
    }
  }
}

/** Prints each key of each pubkeys.gpg; with --trust-keys, trusts them all for that prefix first. */
async function showAndTrustKeys(
  registry: Registry,
  dir: string,
  scan: TreeScan,
  prefix: string | undefined,
  report: ImportReport,
  out: (s: string) => void,
): Promise<void> {
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
    const trusted = new Map<string, string[]>();
    if (!prefix) {
      out(`  not trusted: check these fingerprints, then run again with --trust-keys PREFIX to trust them`);
    } else {
      for (const { info, prefixes } of await registry.keys.add(prefix, bytes)) {
        for (const w of info.warnings) err(`warning: ${info.fingerprint}: ${w}`);
        out(`  trusted ${info.fingerprint} for ${prefixes.join(', ')}`);
        trusted.set(info.fingerprint, prefixes);
      }
    }
    for (const k of keys) {
      const { fingerprint, algorithm } = k;
      report.keys.push({ file, fingerprint, algorithm, userId: k.userIds[0] ?? null, trustedFor: trusted.get(fingerprint) ?? [] });
    }
  }
}
