import { forbidden, type AcihostError } from '../../errors.ts';
import { prefixCovers } from '../../names.ts';
import type { Claim } from './quota-claims.ts';
import type { QuotaRecord } from './quota-store.ts';

/** What versions hold: how many, and their .aci bytes. */
export interface Use {
  bytes: number;
  versions: number;
}

/** What other pushes claim: their sum, and how many they are. */
export interface InFlight extends Use {
  claims: number;
}

export type Dimension = keyof Use;

/** Where a push stands against one limit of one quota. */
export interface Standing {
  quota: QuotaRecord;
  dimension: Dimension;
  /** Published under the prefix. */
  use: Use;
  /** Claimed by the other pushes counted. */
  inFlight: InFlight;
}

export type Verdict =
  /** `bytesLeft`: what the tightest byte limit leaves this push, when one applies. */
  | { kind: 'fits'; bytesLeft: (Standing & { bytes: number }) | undefined }
  /** Over even counting only the claims made before this one: refused. */
  | ({ kind: 'over' } & Standing)
  /** Over only with claims made after this one: they give way to it, or are published first. */
  | ({ kind: 'wait' } & Standing);

/** Whether a claim counts toward the quota of `prefix`: it does when the quota covers every name it may be for. */
export const countsToward = (prefix: string, claim: Pick<Claim, 'under'>): boolean => claim.under.every((n) => prefixCovers(prefix, n));

const limitOf = (quota: QuotaRecord, dimension: Dimension) => (dimension === 'bytes' ? quota.maxBytes : quota.maxVersions);

function sum(claims: Claim[]): InFlight {
  return { bytes: claims.reduce((n, c) => n + c.bytes, 0), versions: claims.reduce((n, c) => n + c.versions, 0), claims: claims.length };
}

/**
 * Judges `own` against each quota it counts toward, given what is published (`useOf`) and
 * the other claims in storage. It fits when everything counted fits. When it does not, the
 * older claims (by id) go first: counting only those, it is refused if it still does not fit,
 * and otherwise waits for the newer ones, which count it and so give way. A commit does not
 * wait for newer pushes still uploading: their admission only reserved what they declared,
 * and they are judged again, counting this one, when they commit.
 */
export function judge(own: Claim, quotas: QuotaRecord[], others: Claim[], useOf: (prefix: string) => Use): Verdict {
  let waiting: Verdict | undefined;
  let bytesLeft: (Standing & { bytes: number }) | undefined;
  for (const quota of quotas) {
    const counted = others.filter(
      (c) => countsToward(quota.prefix, c) && !(own.stage === 'commit' && c.stage === 'admission' && c.id > own.id),
    );
    const all = sum(counted);
    const older = sum(counted.filter((c) => c.id < own.id));
    const use = useOf(quota.prefix);
    for (const dimension of ['versions', 'bytes'] as const) {
      const max = limitOf(quota, dimension);
      if (max === null) continue;
      const needed = use[dimension] + own[dimension];
      if (needed + all[dimension] <= max) continue;
      if (needed + older[dimension] > max) return { kind: 'over', quota, dimension, use, inFlight: older };
      waiting ??= { kind: 'wait', quota, dimension, use, inFlight: all };
    }
    if (quota.maxBytes !== null) {
      const left = quota.maxBytes - use.bytes - all.bytes;
      if (!bytesLeft || left < bytesLeft.bytes) bytesLeft = { quota, dimension: 'bytes', use, inFlight: all, bytes: left };
    }
  }
  return waiting ?? { kind: 'fits', bytesLeft };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * QUOTA_EXCEEDED, naming the quota, the limit, what is used and claimed, and what to do.
 * `problem` says what this push would do, e.g. "this image of 5000 bytes does not fit".
 */
export function quotaExceeded(s: Standing, problem: string): AcihostError {
  const { quota, dimension, use, inFlight } = s;
  const max = limitOf(quota, dimension)!;
  const held =
    dimension === 'bytes'
      ? `${plural(max, 'byte')} at or below it; the ${plural(use.versions, 'version')} published there hold ${plural(use.bytes, 'byte')}`
      : `${plural(max, 'version')} at or below it; ${use.versions} ${use.versions === 1 ? 'is' : 'are'} published there`;
  const claimed = dimension === 'bytes' ? plural(inFlight.bytes, 'byte') : plural(inFlight.versions, 'version');
  const pending = inFlight.claims ? `, and ${plural(inFlight.claims, 'push', 'pushes')} under way claim ${claimed} more` : '';
  const option = dimension === 'bytes' ? '--max-bytes' : '--max-versions';
  return forbidden(
    'QUOTA_EXCEEDED',
    `${problem}: the quota of ${quota.prefix} allows ${held}${pending}; delete versions under ${quota.prefix} ` +
      `(DELETE /-/api/images/NAME/VERSION/OS/ARCH), or ask the operator to raise it (acihost quota set --prefix ${quota.prefix} ${option} N)`,
  );
}
