import { setTimeout as sleep } from 'node:timers/promises';
import { prefixCovers } from '../../names.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import type { Catalog, Coordinates } from '../catalog/catalog.ts';
import type { ChangeJournal } from '../catalog/change-journal.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import type { ByteCap } from '../publish/upload-tap.ts';
import { ClaimBook, type Claim } from './quota-claims.ts';
import { judge, quotaExceeded, type Use, type Verdict } from './quota-judge.ts';
import { QuotaStore, type QuotaRecord } from './quota-store.ts';

/** How long a push waits for newer claims in its way to give way or be published, before it is refused. */
const SETTLE_MS = 10_000;
const RETRY_MS = 100;
/** A commit claim outlives any commit (a promote and a record write) by far; one left by a dead process counts this long. */
const COMMIT_CLAIM_MS = 15 * 60 * 1000;

/** A quota and what the versions at or below its prefix use of it. */
export interface QuotaUse extends QuotaRecord {
  usedBytes: number;
  usedVersions: number;
}

/** A push let in by its quotas: its claim, and the bytes its image may have. */
export interface Admission {
  readonly id: string;
  /** The bytes the quotas leave this push, and the refusal past them; undefined when no byte limit applies. */
  readonly cap?: ByteCap;
  released?: boolean;
}

/** The claim a commit holds until the version is published and other replicas can learn of it. */
export interface CommitClaim {
  /** `keep`: the version was published but its journal entry was not written; the claim counts it until it expires. */
  release(keep: boolean): Promise<void>;
}

/**
 * Quotas per prefix: the most bytes and versions the names at or below it may hold. A push
 * is let in (admit) and published (claimCommit) only while everything published and
 * claimed by other pushes, plus its own claim, fits every quota covering its name. Claims
 * are create-only objects in storage, so every replica sees every other's
 * (docs/design.md#quotas says why the total never passes a quota).
 */
export class Quotas {
  readonly store: QuotaStore;
  private readonly claims: ClaimBook;
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly changes: ChangeJournal;
  private readonly admissionMs: number;
  /** Set once the index holds every published version (a started server); the CLI reads the prefixes it needs. */
  private wholeIndex = false;
  private readonly loaded = new Set<string>();
  private used = { generation: -1, byPrefix: new Map<string, Use>() };

  constructor(opts: {
    storage: Storage;
    catalog: Catalog;
    changes: ChangeJournal;
    domain: string;
    /** How long an admission claim counts: a push still uploading after it is judged again when it commits. */
    admissionSeconds: number;
    onBadRecord?: (key: string, e: unknown) => void;
  }) {
    this.storage = opts.storage;
    this.catalog = opts.catalog;
    this.changes = opts.changes;
    this.admissionMs = opts.admissionSeconds * 1000;
    this.store = new QuotaStore(opts.storage, opts.domain, opts.onBadRecord);
    this.claims = new ClaimBook(opts.storage);
  }

  /** Grows whenever a quota is set or removed. */
  get generation(): number {
    return this.store.mirror.generation;
  }

  /** In a server, once the index is loaded: reads the quotas and keeps them current. */
  async start(pollIntervalMs: number, onError: (e: unknown) => void): Promise<void> {
    this.wholeIndex = true;
    await this.store.mirror.refresh();
    this.store.mirror.start(pollIntervalMs, onError);
  }

  stop(): void {
    this.store.mirror.stop();
  }

  /** Every quota with its use, by prefix (in the CLI, after load()). */
  uses(): QuotaUse[] {
    return this.store.all().map((q) => this.useOfQuota(q));
  }

  /** The quotas that hold for `name` (their prefix covers it), with their use. */
  covering(name: string): QuotaUse[] {
    return this.store.coveringAll([name]).map((q) => this.useOfQuota(q));
  }

  /** For the CLI, whose index starts empty: reads the quotas, and what is published under each (or under `only`). */
  async load(only?: string): Promise<void> {
    await this.store.mirror.refresh();
    await this.loadUnder(only === undefined ? this.store.all().map((q) => q.prefix) : [only]);
  }

  /**
   * Lets a push in, or throws QUOTA_EXCEEDED at once: `under` is what it may be named (its
   * name, or the prefixes of its token), `bytes` the least its image can be (what it
   * declared). Undefined when no quota holds for everything under `under`, or when
   * `unlessPublished` is published already (pushing it again adds nothing).
   */
  async admit(claim: { under: string[]; bytes: number; unlessPublished?: Coordinates }): Promise<Admission | undefined> {
    await this.store.mirror.refresh();
    const quotas = this.store.coveringAll(claim.under);
    if (quotas.length === 0) return undefined;
    if (claim.unlessPublished && (await this.catalog.find(claim.unlessPublished))) return undefined;
    const now = Date.now();
    // Every image has a byte: a quota with none left refuses at once.
    const own: Claim = {
      id: this.claims.newId(now),
      stage: 'admission',
      under: claim.under,
      bytes: Math.max(claim.bytes, 1),
      versions: 1,
      expiresAt: now + this.admissionMs,
    };
    await this.claims.write(own);
    try {
      const verdict = await this.settle(own, quotas);
      return { id: own.id, cap: capOf(verdict) };
    } catch (e) {
      await this.claims.remove(own).catch(() => {});
      throw e;
    }
  }

  /**
   * What the quotas leave a push admitted earlier (acpush's image arrives in a later request,
   * maybe at another replica), read again now; throws QUOTA_EXCEEDED when nothing is left.
   */
  async cap(under: string[], admissionId: string): Promise<ByteCap | undefined> {
    await this.store.mirror.refresh();
    const quotas = this.store.coveringAll(under);
    if (quotas.length === 0) return undefined;
    // The admission's own claim, judged again as it stands now (it is not written again).
    const own: Claim = { id: admissionId, stage: 'admission', under, bytes: 1, versions: 1, expiresAt: Infinity };
    return capOf(await this.settle(own, quotas));
  }

  /**
   * Before the commit of `record`: claims its exact size under its name, in place of the
   * admission's claim, and judges it again counting every other claim; throws
   * QUOTA_EXCEEDED. Undefined when no quota covers the name.
   */
  async claimCommit(record: VersionRecord, admission?: Admission): Promise<CommitClaim | undefined> {
    await this.store.mirror.refresh();
    const quotas = this.store.coveringAll([record.name]);
    if (quotas.length === 0) return undefined;
    const { name, version, os, arch, blob } = record;
    const own: Claim = {
      id: admission?.id ?? this.claims.newId(),
      stage: 'commit',
      under: [name],
      bytes: record.size,
      versions: 1,
      expiresAt: Date.now() + COMMIT_CLAIM_MS,
      version: { name, version, os, arch, blob },
    };
    // Written before the admission claim goes, so that the push is never uncounted.
    await this.claims.write(own);
    if (admission) await this.releaseAdmission(admission);
    try {
      await this.settle(own, quotas);
    } catch (e) {
      await this.claims.remove(own).catch(() => {});
      throw e;
    }
    return {
      release: async (keep) => {
        // Left behind, it only counts until it expires.
        if (!keep) await this.claims.remove(own).catch(() => {});
      },
    };
  }

  /** Ends an admission's claim (the push was refused, failed or published); a claim not removed expires. */
  async releaseAdmission(admission: Admission | undefined): Promise<void> {
    if (!admission || admission.released) return;
    admission.released = true;
    await this.claims.remove({ id: admission.id, stage: 'admission' }).catch(() => {});
  }

  /** Removes the expired claims; returns how many went. */
  sweep(): Promise<number> {
    return this.claims.sweep();
  }

  /**
   * Judges `own` until it fits (returned), is over (refused), or has waited SETTLE_MS for
   * newer claims in its way (refused).
   */
  private async settle(own: Claim, quotas: QuotaRecord[]): Promise<Verdict & { kind: 'fits' }> {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const verdict = await this.look(own, quotas);
      if (verdict.kind === 'fits') return verdict;
      if (verdict.kind === 'over' || Date.now() >= deadline) throw quotaExceeded(verdict, problem(own, verdict));
      await sleep(RETRY_MS * (0.5 + Math.random()));
    }
  }

  /**
   * One judgement. The claims are listed first and the journal read after: a claim missing
   * from the listing was released after its version was journaled, so the index has that
   * version once the journal is read.
   */
  private async look(own: Claim, quotas: QuotaRecord[]): Promise<Verdict> {
    const claims = (await this.claims.current()).filter((c) => c.id !== own.id);
    await this.changes.catchUp();
    await this.loadUnder(quotas.map((q) => q.prefix));
    // A version whose claim is still there may be published already: storage says.
    for (const c of claims) if (c.version && !this.catalog.get(c.version)) await this.catalog.find(c.version);
    // Nothing awaits from here on, so each push counts once: as its claim, or as its published version.
    const published = (c: Claim) => c.version !== undefined && this.catalog.get(c.version)?.blob === c.version.blob;
    return judge(
      own,
      quotas,
      claims.filter((c) => !published(c)),
      (prefix) => this.useOf(prefix),
    );
  }

  private useOfQuota(q: QuotaRecord): QuotaUse {
    const use = this.useOf(q.prefix);
    return { ...q, usedBytes: use.bytes, usedVersions: use.versions };
  }

  /** What is published at or below `prefix`, worked out once per change of the index. */
  private useOf(prefix: string): Use {
    if (this.used.generation !== this.catalog.generation) this.used = { generation: this.catalog.generation, byPrefix: new Map() };
    let use = this.used.byPrefix.get(prefix);
    if (!use) this.used.byPrefix.set(prefix, (use = this.catalog.usageUnder(prefix)));
    return use;
  }

  /** Without the whole index (the CLI), reads the versions under each prefix once; the journal brings later changes. */
  private async loadUnder(prefixes: string[]): Promise<void> {
    if (this.wholeIndex) return;
    for (const prefix of prefixes) {
      if ([...this.loaded].some((p) => prefixCovers(p, prefix))) continue;
      for await (const obj of this.storage.list(`${layout.images}${prefix}/`)) {
        const c = layout.parseVersionRecord(obj.key);
        if (c && prefixCovers(prefix, c.name)) await this.catalog.find(c);
      }
      this.loaded.add(prefix);
    }
  }
}

function capOf(verdict: Verdict & { kind: 'fits' }): ByteCap | undefined {
  const left = verdict.bytesLeft;
  if (!left) return undefined;
  return { bytes: left.bytes, refusal: () => quotaExceeded(left, `the image is larger than the ${left.bytes} bytes left to it`) };
}

/** What a refused push would have done, as the start of its refusal. */
function problem(own: Claim, verdict: Verdict & { kind: 'over' | 'wait' }): string {
  if (verdict.dimension === 'versions') return 'this push would add a version';
  if (own.stage === 'commit') return `this image of ${own.bytes} bytes does not fit`;
  return own.bytes > 1 ? `this push of at least ${own.bytes} bytes does not fit` : 'no bytes are left for the image';
}
