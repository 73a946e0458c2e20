import type { Logger } from 'pino';
import { layout } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import type { AuditLog } from '../audit-log.ts';
import type { TokenStore } from './tokens.ts';

// Hourly: a token is announced within an hour of entering its last two weeks.
const CHECK_EVERY_MS = 3600 * 1000;

/**
 * Announces each token that will expire within two weeks (tokens.ts `expiresSoon`) once:
 * a `token.expiring` audit event, which webhooks pass on, and a warning in the log. A
 * create-only marker per token (`token-expiring/<id>`) makes it once across replicas and
 * restarts: whichever process creates the marker records the event.
 */
export class TokenExpiryWatch {
  private readonly storage: Storage;
  private readonly tokens: TokenStore;
  private readonly audit: AuditLog;
  private readonly log: Logger;
  /** Tokens whose marker exists: not asked about again. */
  private readonly announced = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(opts: { storage: Storage; tokens: TokenStore; audit: AuditLog; log: Logger }) {
    this.storage = opts.storage;
    this.tokens = opts.tokens;
    this.audit = opts.audit;
    this.log = opts.log;
  }

  /** Announces what is due and not yet announced by any process; returns the ids announced here. */
  async check(now = new Date()): Promise<string[]> {
    const announced: string[] = [];
    for (const token of this.tokens.expiringSoon(now)) {
      if (this.announced.has(token.id)) continue;
      const { id: tokenId, name, prefixes, scopes, expiresAt } = token;
      const marker = Buffer.from(JSON.stringify({ tokenId, expiresAt, announcedAt: now.toISOString() }));
      const first = await createOnce(this.storage, layout.tokenExpiringNotice(tokenId), marker);
      this.announced.add(tokenId);
      if (!first) continue;
      announced.push(tokenId);
      const hint = 'make a new token (acihost token create, or POST /-/api/tokens) and revoke this one once it is replaced';
      this.log.warn({ tokenId, name, prefixes, expiresAt, hint }, 'token expires soon');
      const detail = { tokenId, name, scopes, prefixes, expiresAt, createdBy: token.createdBy ?? null };
      await this.audit.record({ actor: null, action: 'token.expiring', result: 'expiring', detail }, now);
    }
    return announced;
  }

  start(): void {
    const check = () => {
      this.running ??= this.check()
        .then(
          () => undefined,
          (err: unknown) => this.log.error({ err }, 'failed to check token expiry'),
        )
        .finally(() => (this.running = undefined));
    };
    check();
    this.timer = setInterval(check, CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** Stops the checks, waiting for one under way (it writes to the storage about to close). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
