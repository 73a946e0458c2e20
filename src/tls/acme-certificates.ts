/**
 * The ACME certificate lifecycle for one domain: serve the stored certificate,
 * order a new one when there is none, when a third of its lifetime remains or
 * when `acihost cert renew` asked, and swap it in without a restart. State lives
 * in the shared storage (acme-store.ts); one replica orders at a time under a
 * create-only lock, and the others pick the result up at their next check.
 */
import type { Logger } from 'pino';
import type { Peers } from '../registry/peers.ts';
import type { Storage } from '../storage/storage.ts';
import type { AcmeChallenges } from './acme-challenges.ts';
import { newAccountKey, orderCertificate, type ChallengeType } from './acme-order.ts';
import { AcmeStore, type StoredCertificate } from './acme-store.ts';
import { checkServable } from './certificate-info.ts';
import type { ServedCertificate } from './served-certificate.ts';

export interface AcmeOptions {
  storage: Storage;
  served: ServedCertificate;
  challenges: AcmeChallenges;
  log: Logger;
  directoryUrl: string;
  email: string | null;
  domain: string;
  /** Decided per order: HTTP-01 while the plain-HTTP listener is open, TLS-ALPN-01 otherwise. */
  challenge: () => ChallengeType;
  checkIntervalSeconds: number;
  pollIntervalMs: number;
  /**
   * The other workers: only the one that runs upkeep orders certificates; it tells the
   * others when a new one is stored, and they serve it from storage.
   */
  peers: Peers;
}

const STORED = 'acme-certificate-stored';

// An order that takes longer than this has failed; the lock then frees itself.
const LOCK_TTL_MS = 10 * 60 * 1000;

export class AcmeCertificates {
  private readonly opts: AcmeOptions;
  private readonly store: AcmeStore;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(opts: AcmeOptions) {
    this.opts = opts;
    this.store = new AcmeStore(opts.storage);
    this.log = opts.log.child({ component: 'acme', domain: opts.domain });
    opts.peers.hear(STORED, () => void this.check('stored by another worker'));
  }

  /** Serves a stored certificate if there is one; call before listening. */
  async serveStored(): Promise<void> {
    const stored = await this.store.certificate();
    if (stored && this.matches(stored)) this.opts.served.offer(stored, 'acme', 'storage');
  }

  /** Checks now (ordering if due) and then at every interval; call once listening, since the CA calls back. */
  start(): void {
    void this.check('start');
    this.timer = setInterval(() => void this.check('interval'), this.opts.checkIntervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check at a time; a check asked for while one runs shares its result. */
  check(reason: string): Promise<void> {
    this.running ??= this.checkOnce(reason).finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkOnce(reason: string): Promise<void> {
    try {
      const stored = await this.currentStored();
      if (!this.opts.peers.runsUpkeep || !(await this.due(stored))) return;
      if (!(await this.store.lock(LOCK_TTL_MS))) {
        this.log.info('another replica is ordering the certificate');
        return;
      }
      try {
        // Another replica may have finished an order just before this one took the lock.
        if (await this.due(await this.currentStored())) await this.order(reason);
      } finally {
        await this.store.unlock();
      }
    } catch (err) {
      this.log.error({ err, reason }, 'failed to renew certificate; will retry at the next check');
    }
  }

  /** The stored certificate if it is for this domain and CA and still servable; served as a side effect. */
  private async currentStored(): Promise<StoredCertificate | null> {
    const stored = await this.store.certificate();
    if (!stored || !this.matches(stored)) return null;
    return this.opts.served.offer(stored, 'acme', 'storage') ? stored : null;
  }

  private async due(stored: StoredCertificate | null): Promise<boolean> {
    if (stored === null) return true;
    const { notBefore, notAfter } = checkServable(stored);
    const lifetime = notAfter.getTime() - notBefore.getTime();
    if (notAfter.getTime() - Date.now() < lifetime / 3) return true;
    return this.store.renewRequested();
  }

  private async order(reason: string): Promise<void> {
    const started = Date.now();
    const challenge = this.opts.challenge();
    this.log.info({ reason, challenge, directoryUrl: this.opts.directoryUrl }, 'ordering certificate');
    const { certPem, keyPem } = await orderCertificate({
      directoryUrl: this.opts.directoryUrl,
      accountKeyPem: await this.accountKey(),
      email: this.opts.email,
      domain: this.opts.domain,
      challenge,
      challenges: this.opts.challenges,
      backoffMinMs: this.opts.pollIntervalMs,
    });
    const record = { certPem, keyPem, domain: this.opts.domain, directoryUrl: this.opts.directoryUrl, issuedAt: new Date().toISOString() };
    checkServable(record);
    await this.store.saveCertificate(record);
    await this.store.clearRenewal();
    this.log.info({ ms: Date.now() - started }, 'obtained certificate');
    this.opts.served.offer(record, 'acme', reason);
    this.opts.peers.tell(STORED, null);
  }

  private async accountKey(): Promise<string> {
    const account = await this.store.account();
    if (account && account.directoryUrl === this.opts.directoryUrl) return account.keyPem;
    const keyPem = await newAccountKey();
    await this.store.saveAccount({ keyPem, directoryUrl: this.opts.directoryUrl, createdAt: new Date().toISOString() });
    return keyPem;
  }

  private matches(stored: StoredCertificate): boolean {
    return stored.domain === this.opts.domain && stored.directoryUrl === this.opts.directoryUrl;
  }
}
