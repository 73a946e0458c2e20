import { forbidden, notFound } from '../../errors.ts';
import { checkDomainPrefix, prefixCovers } from '../../names.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import { authorizeScope, expiresSoon, isExpired, type Scope, type TokenRecord, type TokenStore } from './tokens.ts';

/**
 * Who manages tokens: a token with the `admin` scope, bounded by its prefixes and its
 * expiry, or the operator at the command line, bounded by nothing. Made only by the two
 * factories, so a manager always went through the scope check.
 */
export class TokenManager {
  /** The audit actor and `createdBy`: the admin token's id, or `cli:<user>`. */
  readonly actor: string;
  /** The admin token, or null for the operator. */
  readonly bound: TokenRecord | null;

  private constructor(actor: string, bound: TokenRecord | null) {
    this.actor = actor;
    this.bound = bound;
  }

  /** Throws TOKEN_SCOPE_MISSING unless `token` has the admin scope. */
  static admin(token: TokenRecord): TokenManager {
    authorizeScope(token, 'admin');
    return new TokenManager(token.id, token);
  }

  static operator(actor: string): TokenManager {
    return new TokenManager(actor, null);
  }

  /** Whether `prefix` is at or below one of the admin token's prefixes (segment-aligned). */
  covers(prefix: string): boolean {
    return this.bound === null || this.bound.prefixes.some((own) => prefixCovers(own, prefix));
  }

  /** An admin sees, and revokes, only tokens all of whose prefixes it covers. */
  sees(token: TokenRecord): boolean {
    return token.prefixes.every((p) => this.covers(p));
  }
}

/** What a manager asks for. `expiresInSeconds`: null for never, undefined for the default. */
export interface TokenRequest {
  prefixes: string[];
  scopes: Scope[];
  name: string;
  expiresInSeconds: number | null | undefined;
}

/** A token as listed: its record without the secret's hash, with its last use and whether it expires soon. */
export interface TokenView {
  id: string;
  name: string;
  prefixes: string[];
  scopes: Scope[];
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  expired: boolean;
  expiringSoon: boolean;
}

export function tokenView(token: TokenRecord, lastUsedAt: string | null, now: Date): TokenView {
  const { id, name, prefixes, scopes, createdAt, expiresAt } = token;
  const createdBy = token.createdBy ?? null;
  return {
    id,
    name,
    prefixes,
    scopes,
    createdAt,
    createdBy,
    expiresAt,
    lastUsedAt,
    expired: isExpired(token, now),
    expiringSoon: expiresSoon(token, now),
  };
}

/** The longest duration, in the largest whole unit, that `seconds` holds (as `expires` is written). */
function longestWithin(seconds: number): string {
  if (seconds >= 86_400) return `${Math.floor(seconds / 86_400)}d`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.max(1, seconds)}s`;
}

/**
 * Creating, listing and revoking tokens, for the command line and the API alike, with
 * the admin boundary: an admin token acts only at or below its own prefixes (never
 * wider, never beside), grants `metrics` (which no prefix bounds) only when it holds the
 * whole image domain, and makes no token that outlives it. Each change is audited,
 * and so is each refusal of one.
 */
export class TokenAdmin {
  private readonly tokens: TokenStore;
  private readonly audit: AuditLog;
  private readonly domain: string;
  private readonly defaultExpirySeconds: number;

  constructor(opts: { tokens: TokenStore; audit: AuditLog; domain: string; defaultExpirySeconds: number }) {
    this.tokens = opts.tokens;
    this.audit = opts.audit;
    this.domain = opts.domain;
    this.defaultExpirySeconds = opts.defaultExpirySeconds;
  }

  /** A new token and its view; the token (with its secret) exists only in this answer. */
  async create(manager: TokenManager, request: TokenRequest, now = new Date()): Promise<{ token: string; view: TokenView }> {
    const { prefixes, scopes, name } = request;
    try {
      const expiresInSeconds = this.allowedLifetime(manager, request, now);
      const { token, record } = await this.tokens.create({ prefixes, scopes, name, expiresInSeconds, createdBy: manager.actor }, now);
      await this.audit.record({
        actor: manager.actor,
        action: 'token.create',
        result: 'created',
        detail: { tokenId: record.id, name: record.name, scopes: record.scopes, prefixes: record.prefixes, expiresAt: record.expiresAt },
      });
      return { token, view: tokenView(record, null, now) };
    } catch (e) {
      // What was asked; the label cut short, since an overlong one may be why it was refused.
      const detail = { name: name.slice(0, 128), scopes, prefixes };
      await this.audit.record({ actor: manager.actor, action: 'token.create', ...refusal(e), detail });
      throw e;
    }
  }

  /** The tokens `manager` sees, oldest first. */
  async list(manager: TokenManager, now = new Date()): Promise<TokenView[]> {
    const [records, used] = await Promise.all([this.tokens.list(), this.tokens.use.lastUsed()]);
    return records.filter((t) => manager.sees(t)).map((t) => tokenView(t, used.get(t.id) ?? null, now));
  }

  /**
   * Revokes token `id`. One the admin may not see is answered as one that does not exist,
   * so ids outside its prefixes cannot be probed. The view is undefined only for the
   * operator revoking a record that no longer parses.
   */
  async revoke(manager: TokenManager, id: string, now = new Date()): Promise<TokenView | undefined> {
    try {
      // A record that no longer parses is seen by no admin; the operator may still remove it.
      const record = await this.tokens.find(id).catch(() => undefined);
      if (manager.bound && !(record && manager.sees(record))) {
        throw notFound(
          'TOKEN_NOT_FOUND',
          `no token with id ${JSON.stringify(id)} under this token's prefixes; GET /-/api/tokens lists them`,
        );
      }
      const lastUsedAt = record ? await this.tokens.use.of(id) : null;
      await this.tokens.revoke(id);
      const detail = record ? { tokenId: id, name: record.name, scopes: record.scopes, prefixes: record.prefixes } : { tokenId: id };
      await this.audit.record({ actor: manager.actor, action: 'token.revoke', result: 'revoked', detail });
      return record && tokenView(record, lastUsedAt, now);
    } catch (e) {
      await this.audit.record({ actor: manager.actor, action: 'token.revoke', ...refusal(e), detail: { tokenId: id } });
      throw e;
    }
  }

  /** Throws unless the admin boundary allows what was asked; the seconds the new token lives (null: for ever). */
  private allowedLifetime(manager: TokenManager, request: TokenRequest, now: Date): number | null {
    const admin = manager.bound;
    const asked = request.expiresInSeconds === undefined ? this.defaultExpirySeconds : request.expiresInSeconds;
    if (!admin) return asked;
    // Domain and shape first: a prefix that could never be granted is a 422, whoever asks.
    for (const p of request.prefixes) checkDomainPrefix(this.domain, p, 'TOKEN');
    for (const p of request.prefixes) {
      if (!manager.covers(p)) {
        throw forbidden(
          'TOKEN_PREFIX_NOT_ALLOWED',
          `this admin token may make tokens only at or below ${admin.prefixes.join(', ')}, not for ${p}; ask an admin of a prefix covering it`,
        );
      }
    }
    if (request.scopes.includes('metrics') && !manager.covers(this.domain)) {
      throw forbidden(
        'TOKEN_SCOPE_NOT_ALLOWED',
        `the metrics scope shows the whole server, not one prefix: only an admin token for ${this.domain} (or acihost token create) may grant it`,
      );
    }
    if (admin.expiresAt === null) return asked;
    const left = Math.floor((Date.parse(admin.expiresAt) - now.getTime()) / 1000);
    // Left to the default, the new token simply ends with its maker; asked for longer, it is refused.
    if (request.expiresInSeconds === undefined && left > 0) return Math.min(asked!, left);
    if (asked === null || asked > left) {
      throw forbidden(
        'TOKEN_EXPIRY_NOT_ALLOWED',
        `this admin token expires at ${admin.expiresAt}, and a token it makes may not outlive it; ask for ${longestWithin(left)} or less, or leave expires out`,
      );
    }
    return asked;
  }
}
