import { formatDuration, parseDuration } from '../config/duration.ts';
import { imageDomain } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { checkDomainPrefix } from '../names.ts';
import type { Registry } from '../registry/registry.ts';
import { removalsJson, type RetentionPlan } from '../registry/upkeep/retention-plan.ts';
import { removesAnything, type RetentionPolicy } from '../registry/upkeep/retention-policies.ts';
import { usageError, type CliValues } from './args.ts';
import { auditCli } from './cli-audit.ts';
import { withRegistry } from './open-registry.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function onePrefix(values: CliValues, command: string): string {
  if (values.prefix?.length !== 1) throw usageError(`${command} needs one --prefix PREFIX`);
  return values.prefix[0]!;
}

/** --prefix of plan and apply: at most one, under the image domain; the whole domain when absent. */
function scope(config: Config, values: CliValues, command: string): string {
  if ((values.prefix?.length ?? 0) > 1) throw usageError(`${command} takes at most one --prefix`);
  const domain = imageDomain(config);
  const prefix = values.prefix?.[0]?.replace(/\/+$/, '') ?? domain;
  checkDomainPrefix(domain, prefix, 'RETENTION');
  return prefix;
}

function keepCount(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw usageError(`--keep ${JSON.stringify(text)} is not a whole number from 1 up`);
  return Number(text);
}

/** A duration option's seconds; `0` is taken where `zero` says what it means. */
function seconds(option: string, text: string | undefined, zero?: number): number | null {
  if (text === undefined) return null;
  if (zero !== undefined && text.trim() === '0') return zero;
  const s = parseDuration(text);
  if (s === null) throw usageError(`--${option} ${JSON.stringify(text)} is not a duration such as 90d, 12h or 30m`);
  return s;
}

/** The rules of a policy in words, as `retention set` confirms them and `retention list` shows them. */
function rulesText(p: RetentionPolicy): string {
  const rules = [
    p.keep !== null && `keep ${p.keep}`,
    p.maxAgeSeconds !== null && `max-age ${formatDuration(p.maxAgeSeconds)}`,
    p.protect !== null && `protect ${p.protect}`,
    `grace ${formatDuration(p.graceSeconds)}`,
  ].filter((r) => r !== false);
  return removesAnything(p) ? rules.join('  ') : `removes nothing (no --keep or --max-age): shields ${p.prefix} from broader policies`;
}

/** `acihost retention set --prefix PREFIX [--keep N] [--max-age DURATION] [--protect REGEX] [--grace DURATION]` */
export async function retentionSet(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = onePrefix(values, 'retention set');
  const rules = {
    keep: keepCount(values.keep),
    maxAgeSeconds: seconds('max-age', values['max-age']),
    protect: values.protect ?? null,
    graceSeconds: seconds('grace', values.grace, 0) ?? 0,
  };
  return withRegistry(config, async (registry) => {
    const policy = await registry.retention.policies.set(prefix, rules);
    const { prefix: _prefix, updatedAt: _at, ...detail } = policy;
    await auditCli(registry, { action: 'retention.set', name: policy.prefix, result: 'created', detail });
    out(`${policy.prefix}  ${rulesText(policy)}`);
    return 0;
  });
}

/** `acihost retention list [--json]` */
export async function retentionList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
    const policies = await registry.retention.policies.list();
    if (values.json) out(JSON.stringify(policies, null, 2));
    else if (policies.length === 0) err('no retention policies; set one with acihost retention set --prefix PREFIX --keep N');
    else for (const p of policies) out(`${p.prefix}  ${rulesText(p)}`);
    return 0;
  });
}

/** `acihost retention remove --prefix PREFIX` */
export async function retentionRemove(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = onePrefix(values, 'retention remove');
  return withRegistry(config, async (registry) => {
    const { prefix: removed, updatedAt: _at, ...detail } = await registry.retention.policies.remove(prefix);
    await auditCli(registry, { action: 'retention.remove', name: removed, result: 'removed', detail });
    out(`removed the retention policy of ${removed}`);
    return 0;
  });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`;
const versions = (n: number) => `${n} version${n === 1 ? '' : 's'}`;

/** One line per version, `NAME VERSION OS ARCH`, or the JSON the API answers. */
function printRemovals(prefix: string, plan: RetentionPlan, json: boolean | undefined): void {
  if (json) out(JSON.stringify(removalsJson(prefix, plan), null, 2));
  else for (const { record: r } of plan.removals) out(`${r.name} ${r.version} ${r.os} ${r.arch}`);
}

/** The catalogue is read whole first: the CLI's registry does not load it by itself. */
async function withCatalog<T>(config: Config, act: (registry: Registry) => Promise<T>): Promise<T> {
  return withRegistry(config, async (registry) => {
    await registry.catalog.load();
    return act(registry);
  });
}

/** `acihost retention plan [--prefix PREFIX] [--json]`: what apply would remove now; nothing changes. */
export async function retentionPlan(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = scope(config, values, 'retention plan');
  return withCatalog(config, async (registry) => {
    const plan = await registry.retention.plan(prefix);
    printRemovals(prefix, plan, values.json);
    err(`would remove ${versions(plan.removals.length)} under ${prefix}, freeing ${mib(plan.bytes)}`);
    return 0;
  });
}

/** `acihost retention apply [--prefix PREFIX] [--json]`: removes what plan shows; exit 1 when a removal failed. */
export async function retentionApply(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = scope(config, values, 'retention apply');
  return withCatalog(config, async (registry) => {
    const result = await registry.retention.apply(prefix);
    printRemovals(prefix, result, values.json);
    const gone = result.gone ? `; ${versions(result.gone)} already gone` : '';
    const failed = result.failed ? `; ${versions(result.failed)} failed (run it again)` : '';
    err(`removed ${versions(result.removed)} under ${prefix}, freeing ${mib(result.bytes)}${gone}${failed}`);
    return result.failed > 0 ? 1 : 0;
  });
}
