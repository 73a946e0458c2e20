import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { checkDomainPrefix, prefixCovers } from '../../names.ts';
import { forbidden, notFound, unauthenticated } from '../../errors.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { PrefixMirror } from '../../storage/prefix-mirror.ts';
import { compareStrings } from '../../util/compare-strings.ts';

export const SCOPES = ['push', 'pull', 'delete', 'overwrite', 'metrics', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const tokenRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  prefixes: z.array(z.string()).min(1),
  scopes: z.array(z.enum(SCOPES)).min(1),
  secretSha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;

// `acih_` lets secret scanners recognise a leaked token; the id is public, the secret is only ever hashed.
const TOKEN_SHAPE = /^acih_([0-9a-f]{20})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface NewToken {
  prefixes: string[];
  scopes: Scope[];
  name: string;
  expiresInSeconds: number | null;
}

/** Bearer tokens: created and revoked by the CLI, checked by the server. */
export class TokenStore {
  private readonly storage: Storage;
  private readonly domain: string;
  readonly mirror: PrefixMirror<TokenRecord>;

  constructor(storage: Storage, domain: string, onBadRecord: (key: string, e: unknown) => void = () => {}) {
    this.storage = storage;
    this.domain = domain;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.tokens,
      parse: (b) => tokenRecordSchema.parse(JSON.parse(b.toString('utf8'))),
      onBadRecord,
    });
  }

  async create(spec: NewToken, now = new Date()): Promise<{ token: string; record: TokenRecord }> {
    for (const p of spec.prefixes) checkDomainPrefix(this.domain, p, 'TOKEN');
    const id = randomBytes(10).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      id,
      name: spec.name,
      prefixes: [...new Set(spec.prefixes)],
      scopes: [...new Set(spec.scopes)],
      secretSha256: sha256(secret).toString('hex'),
      createdAt: now.toISOString(),
      expiresAt: spec.expiresInSeconds === null ? null : new Date(now.getTime() + spec.expiresInSeconds * 1000).toISOString(),
    };
    await this.storage.put(layout.token(id), Buffer.from(JSON.stringify(record, null, 1)), { ifAbsent: true });
    return { token: `acih_${id}_${secret}`, record };
  }

  async list(): Promise<TokenRecord[]> {
    await this.mirror.refresh();
    return this.mirror.values().sort((a, b) => compareStrings(a.createdAt, b.createdAt));
  }

  async revoke(id: string): Promise<void> {
    const key = layout.token(id);
    if (!/^[0-9a-f]{20}$/.test(id) || !(await this.storage.stat(key))) {
      throw notFound('TOKEN_NOT_FOUND', `no token with id ${JSON.stringify(id)}; acihost token list shows the ids`);
    }
    await this.storage.delete(key);
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
    if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) {
      throw unauthenticated('TOKEN_EXPIRED', `the token expired at ${record.expiresAt}; create a new one with acihost token create`);
    }
    return record;
  }
}

/** Throws unless the token carries `scope` at all (checked before reading a body). */
export function authorizeScope(token: TokenRecord, scope: Scope): void {
  if (!token.scopes.includes(scope)) {
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
