import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { layout, type QuotaClaimStage } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';

const claimSchema = z.object({
  /** Counts toward every quota whose prefix covers all of these (a name, or the prefixes of the pushing token). */
  under: z.array(z.string()).min(1),
  bytes: z.number().int().nonnegative(),
  versions: z.number().int().nonnegative(),
  /** Milliseconds since the epoch; after it the claim counts no more, and the sweep removes it. */
  expiresAt: z.number(),
  /** The version a commit claim is for, so that an index which has it published does not count it twice. */
  version: z.object({ name: z.string(), version: z.string(), os: z.string(), arch: z.string(), blob: z.string() }).optional(),
});
type ClaimBody = z.infer<typeof claimSchema>;

/** A push's claim on the quotas covering its name; its id orders it among the others. */
export interface Claim extends ClaimBody {
  id: string;
  stage: QuotaClaimStage;
}

// An unreadable claim (a half-written object on no backend we know) is removed after this.
const UNREADABLE_EXPIRY_MS = 60 * 60 * 1000;

/**
 * The claims of the pushes under way, one create-only object each in storage, read by
 * every replica. Claims never change once written, so each is read once and kept.
 */
export class ClaimBook {
  private readonly storage: Storage;
  private readonly known = new Map<string, Claim>();

  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** A new claim id: later ids sort after earlier ones (as far as the clocks agree). */
  newId(now = Date.now()): string {
    return `${String(now).padStart(13, '0')}-${randomBytes(8).toString('hex')}`;
  }

  async write(claim: Claim): Promise<void> {
    const { id: _id, stage: _stage, ...body } = claim;
    // Ids are random: an object already there is no claim of this push's.
    if (!(await createOnce(this.storage, layout.quotaClaim(claim.id, claim.stage), Buffer.from(JSON.stringify(body))))) {
      throw new Error(`quota claim ${claim.id} exists already`);
    }
    this.known.set(layout.quotaClaim(claim.id, claim.stage), claim);
  }

  remove(claim: Pick<Claim, 'id' | 'stage'>): Promise<void> {
    this.known.delete(layout.quotaClaim(claim.id, claim.stage));
    return this.storage.delete(layout.quotaClaim(claim.id, claim.stage));
  }

  /**
   * The claims in storage now, read by a listing that starts after this call: one per push,
   * its commit claim once it has one. Expired claims are left out.
   */
  async current(now = Date.now()): Promise<Claim[]> {
    const listed = new Set<string>();
    const byId = new Map<string, Claim>();
    for await (const obj of this.storage.list(layout.quotaClaims)) {
      const parsed = layout.parseQuotaClaim(obj.key);
      if (!parsed) continue;
      listed.add(obj.key);
      const claim = this.known.get(obj.key) ?? (await this.read(obj.key, parsed));
      if (!claim || claim.expiresAt <= now) continue;
      if (byId.get(claim.id)?.stage !== 'commit') byId.set(claim.id, claim);
    }
    for (const key of this.known.keys()) if (!listed.has(key)) this.known.delete(key);
    return [...byId.values()];
  }

  /** Removes the claims past their expiry (those of a push whose process died); returns how many went. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for await (const obj of this.storage.list(layout.quotaClaims)) {
      const parsed = layout.parseQuotaClaim(obj.key);
      if (!parsed) continue;
      const claim = this.known.get(obj.key) ?? (await this.read(obj.key, parsed));
      const expiresAt = claim?.expiresAt ?? obj.modified.getTime() + UNREADABLE_EXPIRY_MS;
      if (expiresAt > now) continue;
      await this.remove(parsed);
      removed++;
    }
    return removed;
  }

  private async read(key: string, parsed: Pick<Claim, 'id' | 'stage'>): Promise<Claim | undefined> {
    const bytes = await this.storage.get(key);
    if (!bytes) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
    const body = claimSchema.safeParse(json);
    if (!body.success) return undefined;
    const claim = { ...body.data, ...parsed };
    this.known.set(key, claim);
    return claim;
  }
}
