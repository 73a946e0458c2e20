import type { Logger } from 'pino';
import type { Storage } from '../../storage/storage.ts';
import type { KeyStore } from '../trust/keyring.ts';
import { verifyImages, type VerifyLimits } from './verify-images.ts';

export interface VerifyRunSummary {
  checked: number;
  failedImages: number;
  problems: Record<string, number>;
  seconds: number;
}

/**
 * `acihost verify` on a schedule inside the server (`verify.intervalSeconds`, off at 0):
 * each problem is logged as it is found, and the last run's counts are reported (the
 * server puts them in /-/metrics), so an alert can fire on a flipped byte or a lost
 * signature without anyone running the command. Runs never overlap, and one in progress
 * stops between images at shutdown.
 */
export class ScheduledVerify {
  private readonly opts: {
    storage: Storage;
    keys: KeyStore;
    limits: VerifyLimits;
    log: Logger;
    report: (summary: VerifyRunSummary) => void;
    onBytes?: (bytes: number) => void;
  };
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<VerifyRunSummary | undefined> | undefined;
  private stopped = false;

  constructor(opts: ScheduledVerify['opts']) {
    this.opts = opts;
    this.log = opts.log.child({ component: 'verify' });
  }

  /** The first run comes one interval after start: a restart should not re-read the whole store. */
  start(intervalSeconds: number): void {
    this.timer = setInterval(() => void this.run(), intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One run now, unless one is already going (then that one's result). */
  run(): Promise<VerifyRunSummary | undefined> {
    this.running ??= this.check()
      .catch((err: unknown) => {
        this.log.error({ err }, 'failed to verify published images');
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async check(): Promise<VerifyRunSummary | undefined> {
    const started = Date.now();
    const summary: VerifyRunSummary = { checked: 0, failedImages: 0, problems: {}, seconds: 0 };
    const { storage, keys, limits, onBytes } = this.opts;
    for await (const result of verifyImages({ storage, keys, limits, onBytes })) {
      if (this.stopped) return undefined;
      summary.checked++;
      if (result.problems.length > 0) summary.failedImages++;
      for (const p of result.problems) {
        summary.problems[p.code] = (summary.problems[p.code] ?? 0) + 1;
        const { name, version, os, arch } = result;
        this.log.warn({ name, version, os, arch, code: p.code, detail: p.message }, 'published image failed verification');
      }
    }
    summary.seconds = (Date.now() - started) / 1000;
    this.opts.report(summary);
    this.log.info(summary, 'verified published images');
    return summary;
  }
}
