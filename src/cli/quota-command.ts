import type { Config } from '../config/schema.ts';
import type { QuotaUse } from '../registry/quota/quotas.ts';
import { usageError, type CliValues } from './args.ts';
import { auditCli } from './cli-audit.ts';
import { withRegistry } from './open-registry.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** `5000`, `5GB` (10^9) or `4.5GiB` (2^30) as bytes, or null. */
export function parseBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m && UNITS[(m[2] || 'b').toLowerCase()];
  if (!m || !unit) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function limit(values: CliValues, option: 'max-bytes' | 'max-versions'): number | null {
  const text = values[option];
  if (text === undefined) return null;
  const n = option === 'max-bytes' ? parseBytes(text) : /^\d+$/.test(text) ? Number(text) : null;
  if (n === null || !Number.isSafeInteger(n)) {
    const like = option === 'max-bytes' ? 'a size such as 5000000000, 5GB or 4.5GiB' : 'a whole number such as 500';
    throw usageError(`--${option} ${JSON.stringify(text)} is not ${like}`);
  }
  return n;
}

function onePrefix(values: CliValues, command: string): string {
  const prefix = values.prefix?.[0];
  if (!prefix || values.prefix!.length > 1) throw usageError(`${command} needs one --prefix PREFIX`);
  return prefix;
}

/** `1234 of 5000 bytes (25%)`, or `1234 bytes (no limit)`. */
function usedOf(used: number, max: number | null, unit: string): string {
  if (max === null) return `${used} ${unit} (no limit)`;
  return `${used} of ${max} ${unit}${max > 0 ? ` (${Math.round((used / max) * 100)}%)` : ''}`;
}

const describe = (q: QuotaUse) =>
  `${q.prefix}  ${usedOf(q.usedBytes, q.maxBytes, 'bytes')}  ${usedOf(q.usedVersions, q.maxVersions, 'versions')}`;

/** `acihost quota set --prefix PREFIX [--max-bytes BYTES] [--max-versions N]` */
export async function quotaSet(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = onePrefix(values, 'quota set');
  const limits = { maxBytes: limit(values, 'max-bytes'), maxVersions: limit(values, 'max-versions') };
  if (limits.maxBytes === null && limits.maxVersions === null) {
    throw usageError('quota set needs --max-bytes BYTES, --max-versions N or both (quota remove lifts a quota)');
  }
  return withRegistry(config, async (registry) => {
    await registry.quotas.store.set(prefix, limits);
    await auditCli(registry, { action: 'quota.set', name: prefix, result: 'set', detail: { prefix, ...limits } });
    await registry.quotas.load(prefix);
    const quota = registry.quotas.covering(prefix).find((q) => q.prefix === prefix)!;
    out(describe(quota));
    const over =
      (quota.maxBytes !== null && quota.usedBytes > quota.maxBytes) ||
      (quota.maxVersions !== null && quota.usedVersions > quota.maxVersions);
    if (over) err(`note: ${prefix} holds more than the quota allows already; pushes under it are refused until versions are deleted`);
    return 0;
  });
}

/** `acihost quota list [--json]` */
export async function quotaList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
    await registry.quotas.load();
    const quotas = registry.quotas.uses();
    if (values.json) out(JSON.stringify(quotas, null, 2));
    else for (const q of quotas) out(describe(q));
    return 0;
  });
}

/** `acihost quota remove --prefix PREFIX` */
export async function quotaRemove(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = onePrefix(values, 'quota remove');
  return withRegistry(config, async (registry) => {
    await registry.quotas.store.remove(prefix);
    out(`removed the quota of ${prefix}`);
    await auditCli(registry, { action: 'quota.remove', name: prefix, result: 'removed', detail: { prefix } });
    return 0;
  });
}
