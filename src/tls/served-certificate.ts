/**
 * The certificate the HTTPS listener serves right now. Sources (files, the
 * development CA, ACME) hand new pairs to it; the server swaps its secure
 * context on every change, so open connections keep theirs and new handshakes
 * get the new one. A pair that fails checkServable() is refused and the old
 * one stays.
 */
import type { Logger } from 'pino';
import { checkServable, daysLeft, type CertificateInfo } from './certificate-info.ts';
import type { PemPair } from './issue.ts';

export type CertificateSource = 'files' | 'dev-ca' | 'acme' | 'placeholder';

export interface Served extends PemPair {
  info: CertificateInfo;
  source: CertificateSource;
}

const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

export class ServedCertificate {
  private current: Served | undefined;
  private readonly listeners: ((served: Served) => void)[] = [];
  private readonly log: Logger;
  private warnTimer: NodeJS.Timeout | undefined;

  constructor(log: Logger) {
    this.log = log;
  }

  get(): Served | undefined {
    return this.current;
  }

  /** True when a real (not placeholder) certificate within its validity is served. */
  valid(now = new Date()): boolean {
    const c = this.current;
    return c !== undefined && c.source !== 'placeholder' && c.info.notAfter > now && c.info.notBefore <= now;
  }

  onChange(listener: (served: Served) => void): void {
    this.listeners.push(listener);
  }

  /** Serves `pair` if it passes the checks; returns false (and logs why) otherwise. */
  offer(pair: PemPair, source: CertificateSource, reason: string): boolean {
    let info: CertificateInfo;
    try {
      info = checkServable(pair);
    } catch (err) {
      this.log.error({ err: (err as Error).message, source, reason }, 'refused new certificate; the previous one stays in use');
      return false;
    }
    if (this.current?.info.sha256 === info.sha256 && this.current.keyPem === pair.keyPem) return true;
    this.current = { ...pair, info, source };
    this.log.info(
      { source, reason, subject: info.subject, sans: info.sans, issuer: info.issuer, notAfter: info.notAfter.toISOString() },
      'serving certificate',
    );
    for (const listener of this.listeners) listener(this.current);
    this.warnIfExpiring();
    return true;
  }

  /** Warns now and once a day while the certificate is within 14 days of expiry. */
  startExpiryWarnings(): void {
    this.warnTimer = setInterval(() => this.warnIfExpiring(), DAY_MS);
    this.warnTimer.unref();
  }

  stop(): void {
    clearInterval(this.warnTimer);
  }

  private warnIfExpiring(): void {
    const c = this.current;
    if (!c || c.source === 'placeholder') return;
    const days = daysLeft(c.info);
    if (days > EXPIRY_WARNING_DAYS) return;
    this.log.warn(
      { days: Math.floor(days), notAfter: c.info.notAfter.toISOString(), source: c.source },
      c.source === 'acme'
        ? 'certificate expires soon; ACME renewal has not succeeded, check the log for failed to renew'
        : 'certificate expires soon; renew it (the server reloads the new files by itself or on SIGHUP)',
    );
  }
}
