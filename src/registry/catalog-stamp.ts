import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { Catalog } from './catalog.ts';

/**
 * Tells running servers that images were published by another process (`acihost import`
 * writes to storage directly). Their catalogue is in memory: without this, a new name
 * would stay out of discovery until a restart. Polling one small object is cheap; the
 * catalogue is re-read only when it changes (contracts.md: seen within 2 seconds).
 */
export async function touchCatalogStamp(storage: Storage): Promise<void> {
  await storage.put(layout.catalogStamp, Buffer.from(`${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`));
}

export class CatalogStampWatch {
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly log: Logger;
  private seen: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(storage: Storage, catalog: Catalog, log: Logger) {
    this.storage = storage;
    this.catalog = catalog;
    this.log = log;
  }

  /** Remembers the current stamp; call before loading the catalogue, so no publish falls between. */
  async prime(): Promise<void> {
    this.seen = await this.read();
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const stamp = await this.read();
      if (stamp === this.seen) return;
      await this.catalog.load();
      this.seen = stamp;
      this.log.info({ images: this.catalog.size }, 'catalog re-read after an outside publish');
    } catch (err) {
      this.log.error({ err }, 'failed to re-read the catalog');
    } finally {
      this.busy = false;
    }
  }

  private async read(): Promise<string | undefined> {
    return (await this.storage.get(layout.catalogStamp))?.toString('utf8');
  }
}
