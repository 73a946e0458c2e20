import { z } from 'zod';
import { invalid, notFound } from '../../errors.ts';
import { checkDomainPrefix, isAcIdentifier, prefixCovers } from '../../names.ts';
import { layout } from '../../storage/layout.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import type { Storage } from '../../storage/storage.ts';
import { compareStrings } from '../../util/compare-strings.ts';

const policySchema = z.object({
  prefix: z.string(),
  /** Keep the newest this many versions (by push time) of each name and os/arch; null: no such rule. */
  keep: z.number().int().positive().nullable(),
  /** Keep the versions pushed less than this long ago; null: no such rule. */
  maxAgeSeconds: z.number().int().positive().nullable(),
  /** Keep the versions this regular expression matches. */
  protect: z.string().nullable(),
  /** Never remove a version pushed less than this long ago. */
  graceSeconds: z.number().int().nonnegative(),
  updatedAt: z.string(),
});

export type RetentionPolicy = z.infer<typeof policySchema>;
export type RetentionRules = Omit<RetentionPolicy, 'prefix' | 'updatedAt'>;

/** Longest source `--protect` takes: a pattern, not a document. */
const MAX_PATTERN_LENGTH = 1000;

/** The pattern of `--protect`, tested against versions as JavaScript's RegExp does (unanchored). */
export function protectPattern(source: string): RegExp {
  try {
    if (source.length > MAX_PATTERN_LENGTH) throw new Error(`longer than ${MAX_PATTERN_LENGTH} characters`);
    return new RegExp(source);
  } catch (e) {
    throw invalid(
      'RETENTION_PATTERN_INVALID',
      `--protect ${JSON.stringify(source.slice(0, 100))} is not a regular expression (${(e as Error).message}); ` +
        String.raw`for release versions use '^v?\d+\.\d+\.\d+$'`,
    );
  }
}

/** Whether a policy has a rule that can remove anything (one with neither only shields its prefix). */
export const removesAnything = (p: RetentionRules): boolean => p.keep !== null || p.maxAgeSeconds !== null;

/**
 * The retention policies, one per name prefix, stored like keys and tokens (one small
 * object each under retention/policies/), so the CLI sets them and every replica reads them.
 */
export class RetentionPolicies {
  private readonly storage: Storage;
  private readonly domain: string;
  readonly mirror: PrefixMirror<RetentionPolicy>;

  constructor(storage: Storage, domain: string, onBadRecord: (key: string, e: unknown) => void = () => {}) {
    this.storage = storage;
    this.domain = domain;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.retentionPolicies,
      parse: jsonRecord(policySchema),
      onBadRecord,
    });
  }

  /** Sets the whole policy of `prefix`, replacing the one it had: a rule not given is off. */
  async set(prefix: string, rules: RetentionRules, now = new Date()): Promise<RetentionPolicy> {
    const p = prefix.replace(/\/+$/, '');
    checkDomainPrefix(this.domain, p, 'RETENTION');
    if (rules.protect !== null) protectPattern(rules.protect);
    const policy = policySchema.parse({ prefix: p, ...rules, updatedAt: now.toISOString() });
    await this.storage.put(layout.retentionPolicy(p), Buffer.from(JSON.stringify(policy, null, 1)));
    return policy;
  }

  /** Every policy, in prefix order, as stored now. */
  async list(): Promise<RetentionPolicy[]> {
    await this.mirror.refresh();
    return this.mirror.values().sort((a, b) => compareStrings(a.prefix, b.prefix));
  }

  async remove(prefix: string): Promise<RetentionPolicy> {
    const p = prefix.replace(/\/+$/, '');
    const bytes = isAcIdentifier(p) ? await this.storage.get(layout.retentionPolicy(p)) : null;
    if (!bytes) {
      throw notFound(
        'RETENTION_POLICY_NOT_FOUND',
        `no retention policy for ${JSON.stringify(p.slice(0, 300))}; acihost retention list shows the prefixes`,
      );
    }
    await this.storage.delete(layout.retentionPolicy(p));
    return policySchema.parse(JSON.parse(bytes.toString('utf8')));
  }
}

/** The policy that governs `name`: of those whose prefix covers it, the most specific (longest). */
export function governingPolicy<P extends { prefix: string }>(policies: readonly P[], name: string): P | undefined {
  let best: P | undefined;
  for (const p of policies) if (prefixCovers(p.prefix, name) && (!best || p.prefix.length > best.prefix.length)) best = p;
  return best;
}
