import type { Logger } from 'pino';
import type { KeyStore } from './keyring.ts';
import { keyState } from './key-state.ts';

const DAY_MS = 24 * 3600 * 1000;
/** How far ahead an expiry is announced: a month leaves time to extend the key or rotate. */
export const EXPIRY_NOTICE_MS = 30 * DAY_MS;
// Checked hourly so a key added today is announced today; each key is announced once a day.
const CHECK_EVERY_MS = 3600 * 1000;

/**
 * Warns in the server log when a trusted key will expire within 30 days, or has expired:
 * pushes signed by an expired key are refused, so an operator must extend or rotate first.
 * Retired keys sign nothing new, so their expiry is no news.
 */
export class KeyExpiryWatch {
  private readonly keys: KeyStore;
  private readonly log: Logger;
  private readonly lastWarned = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(keys: KeyStore, log: Logger) {
    this.keys = keys;
    this.log = log;
  }

  /** Logs what is due now; returns the fingerprints it warned about. */
  check(now = new Date()): string[] {
    const warned: string[] = [];
    for (const key of this.keys.all()) {
      if (!key.expires || key.retiredAt) continue;
      const left = Date.parse(key.expires) - now.getTime();
      if (left > EXPIRY_NOTICE_MS) continue;
      const last = this.lastWarned.get(key.fingerprint);
      if (last !== undefined && now.getTime() - last < DAY_MS) continue;
      this.lastWarned.set(key.fingerprint, now.getTime());
      warned.push(key.fingerprint);
      const fields = { fingerprint: key.fingerprint, expires: key.expires, prefixes: key.prefixes };
      if (keyState(key, now) === 'expired') {
        this.log.warn({ ...fields, hint: 'pushes signed by it are refused; extend it and add it again, or rotate' }, 'trusted key expired');
      } else {
        const daysLeft = Math.floor(left / DAY_MS);
        const hint = `extend it (gpg --quick-set-expire ${key.fingerprint} 2y) and run acihost key add again, or rotate to a new key`;
        this.log.warn({ ...fields, daysLeft, hint }, 'trusted key expires soon');
      }
    }
    return warned;
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
