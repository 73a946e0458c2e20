/**
 * Certificate files (certbot's fullchain.pem/privkey.pem, a cert-manager secret
 * volume): loaded at start, reloaded on SIGHUP and when either file changes.
 * Changes are found by polling stat() (size, mtime, inode, following symlinks),
 * which sees certbot's symlink switch and cert-manager's `..data` swap alike,
 * where fs.watch on a replaced file goes quiet.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ServedCertificate } from './served-certificate.ts';

export interface CertificateFiles {
  cert: string;
  key: string;
}

export class FileCertificates {
  private readonly files: CertificateFiles;
  private readonly served: ServedCertificate;
  private readonly log: Logger;
  private signature = '';
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<boolean> | undefined;

  constructor(files: CertificateFiles, served: ServedCertificate, log: Logger) {
    this.files = files;
    this.served = served;
    this.log = log;
  }

  /** First load: a certificate that cannot be served is a start-up error. */
  async load(): Promise<void> {
    this.signature = await this.fileSignature();
    const pair = await this.read();
    if (!this.served.offer(pair, 'files', 'start')) {
      throw new Error(`cannot serve the certificate in ${this.files.cert} with the key in ${this.files.key}; the log says why`);
    }
  }

  /** Re-reads both files; a bad pair is refused and the current one stays. */
  reload(reason: string): Promise<boolean> {
    this.loading ??= this.readAndOffer(reason).finally(() => (this.loading = undefined));
    return this.loading;
  }

  watch(intervalMs: number): void {
    this.timer = setInterval(() => void this.checkForChange(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async checkForChange(): Promise<void> {
    const now = await this.fileSignature().catch(() => this.signature);
    if (now === this.signature) return;
    this.signature = now;
    await this.reload('files changed');
  }

  private async readAndOffer(reason: string): Promise<boolean> {
    try {
      return this.served.offer(await this.read(), 'files', reason);
    } catch (err) {
      this.log.error({ err: (err as Error).message, reason, ...this.files }, 'refused new certificate; the previous one stays in use');
      return false;
    }
  }

  private async read(): Promise<{ certPem: string; keyPem: string }> {
    const [certPem, keyPem] = await Promise.all([readFile(this.files.cert, 'utf8'), readFile(this.files.key, 'utf8')]);
    return { certPem, keyPem };
  }

  private async fileSignature(): Promise<string> {
    const parts = await Promise.all(
      [this.files.cert, this.files.key].map(async (file) => {
        const s = await stat(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      }),
    );
    return parts.join('|');
  }
}
