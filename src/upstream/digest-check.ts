/**
 * A pass-through that hashes what flows and counts it: it fails with
 * UPSTREAM_DIGEST_MISMATCH rather than ending when the bytes do not match their
 * descriptor, at the first byte too many or at the end. Nothing is held back,
 * so a whole blob is never in memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { badGateway } from '../errors.ts';

export class DigestCheck extends Transform {
  readonly #hash: Hash = createHash('sha256');
  readonly #digest: string;
  readonly #size: number;
  readonly #what: string;
  #seen = 0;

  /** `what` names the blob in messages: `blob sha256:... of team/app at registry.example.com`. */
  constructor(digest: string, size: number, what: string) {
    super();
    this.#digest = digest;
    this.#size = size;
    this.#what = what;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#size) return callback(this.#mismatch(`is longer than the ${this.#size} bytes its manifest says`));
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#size)
      return callback(this.#mismatch(`ended after ${this.#seen} of the ${this.#size} bytes its manifest says`));
    const actual = `sha256:${this.#hash.digest('hex')}`;
    if (actual !== this.#digest) return callback(this.#mismatch(`has digest ${actual}`));
    callback();
  }

  #mismatch(what: string): Error {
    return badGateway(
      'UPSTREAM_DIGEST_MISMATCH',
      `${this.#what} ${what}: the upstream registry served damaged or other bytes; nothing from it was kept, and its storage needs checking`,
    );
  }
}
