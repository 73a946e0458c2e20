import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { conflict, forbidden, notFound, tooMany, type AcihostError } from '../../errors.ts';
import { layout, type UploadFile } from '../../storage/layout.ts';
import { createOnce, type ObjectInfo, type Storage } from '../../storage/storage.ts';
import type { Coordinates } from '../catalog/catalog.ts';
import { isIdle, sweepUploads } from './upload-sweep.ts';
import { OpenSessions, type OpenSession } from './open-sessions.ts';

const sessionSchema = z.object({
  id: z.string(),
  tokenId: z.string(),
  name: z.string(),
  version: z.string(),
  os: z.string(),
  arch: z.string(),
  startedAt: z.string(),
  /** The id of the upload's claim on the quotas covering its name, when any covered it at its start. */
  quotaClaim: z.string().optional(),
});

/** An acpush upload: who started it and what the push URL named (not trusted until completion). */
export type UploadSession = z.infer<typeof sessionSchema>;

const failureSchema = z.object({ part: z.string(), code: z.string(), message: z.string() });
export type PartFailure = z.infer<typeof failureSchema>;

// 32 random bytes: the id is the only thing between a stranger and someone's upload URLs.
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const partExists = (what: string) =>
  conflict('ACPUSH_PART_EXISTS', `this upload already has its ${what}; each part is sent once, so run acpush again`);

/**
 * Upload sessions and their parts, kept in storage only, so any process sharing
 * the storage (after a restart, another replica) can continue an upload. Every
 * part is written create-only, which makes concurrent or repeated PUTs safe
 * without a read-modify-write of shared state. Expiry counts from the last
 * activity (the newest object), so a long image upload does not expire itself.
 * Each token holds at most `maxPerToken` sessions that have not expired.
 */
export class UploadStore {
  /** Counted in memory, refreshed from storage by every sweep. */
  readonly openSessions = new OpenSessions();
  private readonly storage: Storage;
  private readonly expirySeconds: number;
  private readonly maxPerToken: number;

  constructor(storage: Storage, opts: { expirySeconds: number; maxPerToken: number }) {
    this.storage = storage;
    this.expirySeconds = opts.expirySeconds;
    this.maxPerToken = opts.maxPerToken;
  }

  async create(tokenId: string, target: Coordinates, now = new Date(), quotaClaim?: string): Promise<UploadSession> {
    const at = now.getTime();
    if (this.openSessions.countFor(tokenId, at - this.expirySeconds * 1000) >= this.maxPerToken) {
      throw tooMany(
        'UPLOAD_SESSIONS_LIMIT',
        `this token already has ${this.maxPerToken} acpush uploads open (limits.maxUploadSessionsPerToken); ` +
          `let one finish, or wait until an abandoned one expires (${this.expirySeconds} s after its last part), then run acpush again`,
      );
    }
    const session: UploadSession = {
      id: randomBytes(32).toString('base64url'),
      tokenId,
      ...target,
      startedAt: now.toISOString(),
      quotaClaim,
    };
    // Counted before the write, so concurrent starts cannot all pass the check.
    this.openSessions.add(session.id, tokenId, at);
    try {
      await this.storage.put(layout.uploadFile(session.id, 'session.json'), Buffer.from(JSON.stringify(session)), { ifAbsent: true });
    } catch (e) {
      this.openSessions.remove(session.id);
      throw e;
    }
    return session;
  }

  /**
   * Removes the sessions idle past their expiry (src/registry/upkeep/sweep.ts) and
   * recounts the open ones from what storage holds. Returns how many went. With
   * `remove` false it only recounts.
   */
  async sweep(now = Date.now(), remove = true): Promise<number> {
    const recount = this.openSessions.beginRecount();
    try {
      const { removed, kept } = await sweepUploads(this.storage, this.expirySeconds, now, remove);
      const listed = new Map<string, OpenSession>();
      for (const [id, objects] of kept) {
        // Only a session this process has not seen (another's, or from before a restart) is read.
        const tokenId = this.openSessions.tokenOf(id) ?? (await this.tokenOf(id));
        if (tokenId) listed.set(id, { tokenId, active: Math.max(...objects.map((o) => o.modified.getTime())) });
      }
      this.openSessions.endRecount(recount, listed);
      return removed;
    } catch (e) {
      this.openSessions.abandonRecount(recount);
      throw e;
    }
  }

  /**
   * The live session `id` if `tokenId` started it. A session idle past its expiry
   * is removed on the way and reported as expired.
   */
  async open(id: string, tokenId: string, now = Date.now()): Promise<UploadSession> {
    const objects = SESSION_ID.test(id) ? await this.objects(id) : [];
    const bytes = objects.some((o) => o.key === layout.uploadFile(id, 'session.json'))
      ? await this.storage.get(layout.uploadFile(id, 'session.json'))
      : null;
    if (!bytes) {
      throw notFound('ACPUSH_UPLOAD_NOT_FOUND', 'there is no such upload (it was completed, discarded or never started); run acpush again');
    }
    if (isIdle(objects, this.expirySeconds, now)) {
      await this.discard(id);
      throw notFound(
        'ACPUSH_UPLOAD_EXPIRED',
        `the upload expired after ${this.expirySeconds} s without activity and its parts were removed; run acpush again`,
      );
    }
    const session = sessionSchema.parse(JSON.parse(bytes.toString('utf8')));
    if (session.tokenId !== tokenId) {
      throw forbidden(
        'ACPUSH_UPLOAD_NOT_YOURS',
        'this upload was started with another token; an upload belongs to the token that started it, so push again with one token',
      );
    }
    return session;
  }

  get(id: string, file: UploadFile): Promise<Buffer | null> {
    return this.storage.get(layout.uploadFile(id, file));
  }

  /** Writes a part once; a second copy of the same part is a conflict, whichever process wrote the first. */
  async putOnce(id: string, file: UploadFile, body: Buffer, what: string): Promise<void> {
    if (!(await createOnce(this.storage, layout.uploadFile(id, file), body))) throw partExists(what);
    this.openSessions.touch(id, Date.now());
  }

  /** Refuses a part that is already there before its body is read. */
  async assertAbsent(id: string, file: UploadFile, what: string): Promise<void> {
    if (await this.storage.stat(layout.uploadFile(id, file))) throw partExists(what);
  }

  /** One completion at a time: a second concurrent one is refused and leaves the session to the first. */
  async lockForCompletion(id: string): Promise<void> {
    if (!(await createOnce(this.storage, layout.uploadFile(id, 'completing'), Buffer.alloc(0)))) {
      throw conflict('ACPUSH_UPLOAD_COMPLETING', 'this upload is already being completed by another request; wait for its answer');
    }
  }

  /** Keeps the first refused part's error for the completion answer, the only text acpush shows. */
  async recordFailure(id: string, part: string, error: AcihostError): Promise<void> {
    const failure: PartFailure = { part, code: error.code, message: error.message };
    // The first failure is the one kept.
    await createOnce(this.storage, layout.uploadFile(id, 'failure.json'), Buffer.from(JSON.stringify(failure)));
    this.openSessions.touch(id, Date.now());
  }

  async failure(id: string): Promise<PartFailure | null> {
    const bytes = await this.get(id, 'failure.json');
    return bytes ? failureSchema.parse(JSON.parse(bytes.toString('utf8'))) : null;
  }

  /** True while the session still exists (a part that took long may outlive a discard). */
  async exists(id: string): Promise<boolean> {
    return (await this.storage.stat(layout.uploadFile(id, 'session.json'))) !== null;
  }

  /** Removes the session and every part; the session record goes first, so no request finds it half gone. */
  async discard(id: string): Promise<void> {
    const sessionKey = layout.uploadFile(id, 'session.json');
    await this.storage.delete(sessionKey);
    this.openSessions.remove(id);
    for (const o of await this.objects(id)) await this.storage.delete(o.key);
  }

  /** The token that started session `id`, or undefined when its record is gone or unreadable. */
  private async tokenOf(id: string): Promise<string | undefined> {
    const bytes = await this.get(id, 'session.json');
    if (!bytes) return undefined;
    try {
      return sessionSchema.parse(JSON.parse(bytes.toString('utf8'))).tokenId;
    } catch {
      return undefined;
    }
  }

  private async objects(id: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const o of this.storage.list(layout.uploadDir(id))) out.push(o);
    return out;
  }
}
