import type { ServerResponse } from 'node:http';
import { tooMany } from '../errors.ts';

/**
 * How many uploads one token may send at once (limits.maxConcurrentUploadsPerToken).
 * Each upload holds a staging file, a decoder and a share of the CPU for as long
 * as it streams, so one leaked or runaway CI token must not take them all.
 */
export class UploadSlots {
  readonly #perToken: number;
  readonly #held = new Map<string, number>();

  constructor(perToken: number) {
    this.#perToken = perToken;
  }

  /**
   * Takes one of the token's slots for the request answered by `res`, until its
   * response closes (answered, failed or abandoned: Node emits 'close' for every
   * one); throws when the token already uses them all.
   */
  take(tokenId: string, res: ServerResponse): void {
    if (res.closed) return; // its client is gone: nothing will stream
    const held = this.#held.get(tokenId) ?? 0;
    if (held >= this.#perToken) {
      throw tooMany(
        'UPLOADS_CONCURRENCY_LIMIT',
        `this token is already sending ${held} uploads, as many at once as this server allows ` +
          '(limits.maxConcurrentUploadsPerToken); wait for one of them to finish, then send this one again',
      );
    }
    this.#held.set(tokenId, held + 1);
    res.once('close', () => {
      const left = (this.#held.get(tokenId) ?? 1) - 1;
      if (left > 0) this.#held.set(tokenId, left);
      else this.#held.delete(tokenId);
    });
  }
}
