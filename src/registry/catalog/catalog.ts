import type { Storage } from '../../storage/storage.ts';
import { layout } from '../../storage/layout.ts';
import { ByteLru, type CacheUse } from '../../util/byte-lru.ts';
import { mapLimit } from '../../util/map-limit.ts';
import { compareVersions, highestVersion } from './version-order.ts';
import { parseVersionRecord, type VersionRecord } from './version-record.ts';
import { compareStrings } from '../../util/compare-strings.ts';

export interface Coordinates {
  name: string;
  version: string;
  os: string;
  arch: string;
}

const LOAD_CONCURRENCY = 32;
const MISS_MEMORY_MS = 1000;
// Names come from request paths, as long as a request line allows: the misses are bounded in bytes.
const MISS_MEMORY_BYTES = 2 * 1024 * 1024;
// A remembered miss's cost besides its name: the entry and its map slot.
const MISS_OVERHEAD = 64;

const platform = (os: string, arch: string) => `${os}/${arch}`;

/**
 * The in-memory index of published versions. Names are kept sorted so that
 * "every name under a path" is a binary search plus a short scan, whatever the
 * size of the catalogue. Storage stays the source of truth: a miss on a specific
 * version asks storage before answering no.
 */
export class Catalog {
  private readonly storage: Storage;
  private readonly names: string[] = [];
  private readonly misses = new ByteLru<string, number>(MISS_MEMORY_BYTES, (_until, name) => name.length + MISS_OVERHEAD);
  private readonly byName = new Map<string, Map<string, Map<string, VersionRecord>>>();
  /** Bumped on every change so renderers can cache by it. */
  generation = 0;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  async load(): Promise<void> {
    const keys: string[] = [];
    for await (const obj of this.storage.list(layout.images)) if (layout.parseVersionRecord(obj.key)) keys.push(obj.key);
    // Cold start reads every record; in parallel, since each is a small independent read.
    const records = await mapLimit(keys, LOAD_CONCURRENCY, (key) => this.storage.get(key));
    for (const bytes of records) if (bytes) this.add(parseVersionRecord(bytes));
  }

  /** Every known version, in name order (what a snapshot of this index holds). */
  records(): VersionRecord[] {
    return this.names.flatMap((name) => [...this.byName.get(name)!.values()].flatMap((versions) => [...versions.values()]));
  }

  add(record: VersionRecord): void {
    let platforms = this.byName.get(record.name);
    if (!platforms) {
      platforms = new Map();
      this.byName.set(record.name, platforms);
      this.names.splice(this.lowerBound(record.name), 0, record.name);
    }
    const key = platform(record.os, record.arch);
    let versions = platforms.get(key);
    if (!versions) platforms.set(key, (versions = new Map()));
    versions.set(record.version, record);
    this.generation++;
  }

  /**
   * Forgets a deleted version; the name goes when its last version does. With
   * `blob`, only the record holding that blob goes, not one pushed again since.
   */
  remove(c: Coordinates, blob?: string): boolean {
    const platforms = this.byName.get(c.name);
    const versions = platforms?.get(platform(c.os, c.arch));
    if (blob !== undefined && versions?.get(c.version)?.blob !== blob) return false;
    if (!platforms || !versions?.delete(c.version)) return false;
    if (versions.size === 0) platforms.delete(platform(c.os, c.arch));
    if (platforms.size === 0) {
      this.byName.delete(c.name);
      this.names.splice(this.lowerBound(c.name), 1);
    }
    this.generation++;
    return true;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Every version of `name`, highest first (see version-order.ts), then by os/arch. */
  versionsOf(name: string): VersionRecord[] {
    const all = [...(this.byName.get(name)?.values() ?? [])].flatMap((versions) => [...versions.values()]);
    return all.sort((a, b) => compareVersions(b, a) || compareStrings(platform(a.os, a.arch), platform(b.os, b.arch)));
  }

  /** The `latest` of each os/arch of `name`, in os/arch order. */
  latestPerPlatform(name: string): VersionRecord[] {
    const platforms = this.byName.get(name);
    if (!platforms) return [];
    return [...platforms.keys()].sort().map((p) => highestVersion(platforms.get(p)!.values())!);
  }

  /** The versions of `name`, one array per os/arch in os/arch order, each in no particular order. */
  platformsOf(name: string): VersionRecord[][] {
    const platforms = this.byName.get(name);
    if (!platforms) return [];
    return [...platforms.keys()].sort().map((p) => [...platforms.get(p)!.values()]);
  }

  /** How many names lie strictly below `name`: names in [name/, name0), since '0' follows '/'. */
  countBelow(name: string): number {
    return this.lowerBound(name + '0') - this.lowerBound(name + '/');
  }

  /** Names strictly below `name`, skipping the first `offset` (the page for people paginates). */
  namesBelowFrom(name: string, offset: number, limit: number): string[] {
    const start = this.lowerBound(name + '/') + offset;
    return this.names.slice(start, Math.min(start + limit, this.lowerBound(name + '0')));
  }

  /** `prefix` itself and the names below it, those after `after` only, at most `limit` (cursor pagination). */
  namesCovered(prefix: string, after: string | undefined, limit: number): string[] {
    const out: string[] = [];
    if (this.has(prefix) && (after === undefined || prefix > after)) out.push(prefix);
    const end = this.lowerBound(prefix + '0');
    let i = this.lowerBound(prefix + '/');
    if (after !== undefined) i = Math.max(i, this.upperBound(after));
    for (; i < end && out.length < limit; i++) out.push(this.names[i]!);
    return out;
  }

  /** The versions of `prefix` and of every name below it (segment-aligned): how many, and their .aci bytes. */
  usageUnder(prefix: string): { bytes: number; versions: number } {
    const use = { bytes: 0, versions: 0 };
    const count = (name: string) => {
      for (const versions of this.byName.get(name)!.values()) {
        for (const r of versions.values()) {
          use.bytes += r.size;
          use.versions++;
        }
      }
    };
    if (this.has(prefix)) count(prefix);
    for (let i = this.lowerBound(prefix + '/'), end = this.lowerBound(prefix + '0'); i < end; i++) count(this.names[i]!);
    return use;
  }

  /** A specific version if this index has it, without asking storage. */
  get(c: Coordinates): VersionRecord | undefined {
    return this.known(c);
  }

  /** A specific version; consults storage when this index has not seen it yet. */
  async find(c: Coordinates): Promise<VersionRecord | undefined> {
    const known = this.known(c);
    if (known) return known;
    const bytes = await this.storage.get(layout.versionRecord(c));
    if (!bytes) return undefined;
    const record = parseVersionRecord(bytes);
    this.add(record);
    return record;
  }

  /**
   * Makes sure a name stored by another replica moments ago is known here, so a
   * client that pushed through one replica can discover through another at once.
   * One short listing per unknown name, remembered for a second so a flood of
   * lookups for names that do not exist costs one listing each per second.
   */
  async ensureName(name: string): Promise<void> {
    if (this.byName.has(name)) return;
    const now = Date.now();
    if ((this.misses.get(name) ?? 0) > now) return;
    this.misses.set(name, now + MISS_MEMORY_MS);
    for await (const obj of this.storage.list(`${layout.images}${name}/_v/`)) {
      const c = layout.parseVersionRecord(obj.key);
      if (c?.name === name) await this.find(c);
    }
  }

  /** What the remembered misses hold. */
  get missUse(): CacheUse {
    return this.misses;
  }

  latest(name: string, os: string, arch: string): VersionRecord | undefined {
    const versions = this.byName.get(name)?.get(platform(os, arch));
    return versions ? highestVersion(versions.values()) : undefined;
  }

  /** Names strictly below `name` (segment-aligned), at most `limit`, in order. */
  namesBelow(name: string, limit: number): string[] {
    const prefix = name + '/';
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.names.length && out.length < limit; i++) {
      const candidate = this.names[i]!;
      if (!candidate.startsWith(prefix)) break;
      out.push(candidate);
    }
    return out;
  }

  /** Puts what storage holds for one version in the index: its record as stored now, or nothing. */
  async refresh(c: Coordinates): Promise<void> {
    const bytes = await this.storage.get(layout.versionRecord(c));
    if (!bytes) {
      this.remove(c);
      return;
    }
    const record = parseVersionRecord(bytes);
    const known = this.known(c);
    // A version deleted and pushed again (overwrite) keeps its key but has a new blob.
    if (known?.blob !== record.blob || known.pushedAt !== record.pushedAt) this.add(record);
  }

  /**
   * Brings this index in line with storage by listing record keys: records it missed
   * are read, records gone from storage are dropped. With `reread`, every listed
   * record is read again too, which also catches a version deleted and pushed again
   * whose journal entries were lost. The sweep runs this first, so a blob is never
   * judged orphaned by an index that missed a change.
   */
  async reconcile(reread = false): Promise<void> {
    // A record committed while the listing runs may be missing from it: keep the young ones.
    const listedFrom = new Date(Date.now() - 60_000).toISOString();
    const stored = new Set<string>();
    const toRead: Coordinates[] = [];
    for await (const obj of this.storage.list(layout.images)) {
      const c = layout.parseVersionRecord(obj.key);
      if (!c) continue;
      stored.add(obj.key);
      if (reread || !this.known(c)) toRead.push(c);
    }
    await mapLimit(toRead, LOAD_CONCURRENCY, (c) => this.refresh(c));
    for (const r of this.records()) if (r.pushedAt < listedFrom && !stored.has(layout.versionRecord(r))) this.remove(r);
  }

  /** Blob keys that some known version record references. */
  referencedBlobs(): Set<string> {
    return new Set(this.records().map((r) => r.blob));
  }

  private known(c: Coordinates): VersionRecord | undefined {
    return this.byName.get(c.name)?.get(platform(c.os, c.arch))?.get(c.version);
  }

  get size(): number {
    return this.names.length;
  }

  private upperBound(value: string): number {
    const i = this.lowerBound(value);
    return this.names[i] === value ? i + 1 : i;
  }

  private lowerBound(value: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.names[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
