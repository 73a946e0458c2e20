import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.ts';
import { checkDomainPrefix, prefixCovers } from '../../names.ts';
import { forbidden, invalid, notFound, unauthenticated } from '../../errors.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import { compareStrings } from '../../util/compare-strings.ts';
import { TokenUse } from './token-use.ts';

export const SCOPES = ['push', 'pull', 'delete', 'overwrite', 'metrics', 'admin', 'convert', 'sign'] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes that grant others: a token that may have its pushes signed by the server may push. */
const IMPLIED: Partial<Record<Scope, readonly Scope[]>> = { sign: ['push'] };

/** Whether the token carries `scope`, itself or through a scope that implies it. */
export const hasScope = (token: Pick<TokenRecord, 'scopes'>, scope: Scope): boolean =>
  token.scopes.some((s) => s === scope || (IMPLIED[s]?.includes(scope) ?? false));

const tokenRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  prefixes: z.array(z.string()).min(1),
  scopes: z.array(z.enum(SCOPES)).min(1),
  secretSha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  /** The admin token's id, or `cli:<user>`; absent from records made before it was kept. */
  createdBy: z.string().optional(),
  expiresAt: z.string().nullable(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;

const DAY_MS = 24 * 3600 * 1000;
/** How far ahead a token's expiry is shown and announced: two weeks leave time to replace it. */
export const EXPIRING_WITHIN_MS = 14 * DAY_MS;

/**
 * Whether `token` expires within EXPIRING_WITHIN_MS of `now`, has not expired yet, and was made
 * to last longer than that: a token made short-lived (a CI job's) expires as meant, and is no news.
 */
export function expiresSoon(token: TokenRecord, now: Date): boolean {
  if (!token.expiresAt) return false;
  const expires = Date.parse(token.expiresAt);
  const left = expires - now.getTime();
  return left > 0 && left <= EXPIRING_WITHIN_MS && expires - Date.parse(token.createdAt) > EXPIRING_WITHIN_MS;
}

export const isExpired = (token: TokenRecord, now: Date): boolean =>
  token.expiresAt !== null && Date.parse(token.expiresAt) <= now.getTime();

const TOKEN_ID = /^[0-9a-f]{20}$/;

/** "90d" and the like in seconds, or null for "never"; undefined when it is neither. */
export function expiryFromText(text: string): number | null | undefined {
  if (text === 'never') return null;
  return parseDuration(text) ?? undefined;
}

const MAX_NAME_CHARS = 128;

/** Labels are printed one token a line: no control characters that could forge a line or a colour. */
function checkName(name: string): void {
  if ([...name].length > MAX_NAME_CHARS || /[\p{Cc}\u2028\u2029]/u.test(name)) {
    throw invalid('TOKEN_NAME_INVALID', `a token's name is a label of at most ${MAX_NAME_CHARS} characters without control characters`);
  }
}

// `acih_` lets secret scanners recognise a leaked token; the id is public, the secret is only ever hashed.
const TOKEN_SHAPE = /^acih_([0-9a-f]{20})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface NewToken {
  prefixes: string[];
  scopes: Scope[];
  name: string;
  expiresInSeconds: number | null;
  /** Who makes it: an admin token's id or `cli:<user>`. */
  createdBy?: string;
}

/** Bearer tokens: created and revoked by the CLI and admin tokens, checked by the server. */
export class TokenStore {
  private readonly storage: Storage;
  private readonly domain: string;
  readonly mirror: PrefixMirror<TokenRecord>;
  readonly use: TokenUse;

  constructor(storage: Storage, domain: string, onBadRecord: (key: string, e: unknown) => void = () => {}) {
    this.storage = storage;
    this.domain = domain;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.tokens,
      parse: jsonRecord(tokenRecordSchema),
      onBadRecord,
    });
    this.use = new TokenUse(storage, onBadRecord);
  }

  async create(spec: NewToken, now = new Date()): Promise<{ token: string; record: TokenRecord }> {
    for (const p of spec.prefixes) checkDomainPrefix(this.domain, p, 'TOKEN');
    checkName(spec.name);
    const id = randomBytes(10).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      id,
      name: spec.name,
      prefixes: [...new Set(spec.prefixes)],
      scopes: [...new Set(spec.scopes)],
      secretSha256: sha256(secret).toString('hex'),
      createdAt: now.toISOString(),
      ...(spec.createdBy === undefined ? {} : { createdBy: spec.createdBy }),
      expiresAt: spec.expiresInSeconds === null ? null : new Date(now.getTime() + spec.expiresInSeconds * 1000).toISOString(),
    };
    await this.storage.put(layout.token(id), Buffer.from(JSON.stringify(record, null, 1)), { ifAbsent: true });
    return { token: `acih_${id}_${secret}`, record };
  }

  async list(): Promise<TokenRecord[]> {
    await this.mirror.refresh();
    return this.mirror.values().sort((a, b) => compareStrings(a.createdAt, b.createdAt));
  }

  /** The record of token `id`, or undefined when there is none (or the id cannot be one). */
  async find(id: string): Promise<TokenRecord | undefined> {
    return TOKEN_ID.test(id) ? await this.mirror.fetch(layout.token(id)) : undefined;
  }

  /** The tokens the server holds now (polled), those expiring soon: nothing is read from storage. */
  expiringSoon(now: Date): TokenRecord[] {
    return this.mirror.values().filter((t) => expiresSoon(t, now));
  }

  async revoke(id: string): Promise<void> {
    const key = layout.token(id);
    if (!TOKEN_ID.test(id) || !(await this.storage.stat(key))) {
      throw notFound('TOKEN_NOT_FOUND', `no token with id ${JSON.stringify(id)}; acihost token list (or GET /-/api/tokens) shows the ids`);
    }
    await this.storage.delete(key);
    // What only the live token needed; left behind, they would be harmless.
    await Promise.all([this.use.forget(id), this.storage.delete(layout.tokenExpiringNotice(id))]);
  }

  /** The token's record, or a 401-kind error that says what is wrong. */
  async authenticate(presented: string | undefined, now = new Date()): Promise<TokenRecord> {
    if (!presented)
      throw unauthenticated(
        'TOKEN_MISSING',
        'this request needs a token: send Authorization: Bearer TOKEN (acihost token create makes one)',
      );
    const m = TOKEN_SHAPE.exec(presented);
    const record = m ? await this.mirror.fetch(layout.token(m[1]!)) : undefined;
    const matches = record !== undefined && timingSafeEqual(sha256(m![2]!), Buffer.from(record.secretSha256, 'hex'));
    if (!matches)
      throw unauthenticated(
        'TOKEN_INVALID',
        'the token is not valid (unknown, revoked or mistyped); ask for a new one with acihost token create',
      );
    if (isExpired(record, now)) {
      throw unauthenticated('TOKEN_EXPIRED', `the token expired at ${record.expiresAt}; create a new one with acihost token create`);
    }
    return record;
  }
}

/** Throws unless the token carries `scope` at all (checked before reading a body). */
export function authorizeScope(token: TokenRecord, scope: Scope): void {
  if (!hasScope(token, scope)) {
    throw forbidden('TOKEN_SCOPE_MISSING', `the token lacks the ${scope} scope; create one with --scope ${scope}`);
  }
}

/** Throws unless the token has `scope` for a prefix covering `name`. */
export function authorize(token: TokenRecord, scope: Scope, name: string): void {
  authorizeScope(token, scope);
  if (!token.prefixes.some((p) => prefixCovers(p, name))) {
    throw forbidden(
      'PREFIX_NOT_ALLOWED',
      `the token may ${scope} only under ${token.prefixes.join(', ')}, not ${name}; use a token created with --prefix covering it`,
    );
  }
}
