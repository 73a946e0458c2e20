import type { Storage } from '../storage/storage.ts';
import { layout } from '../storage/layout.ts';
import { highestVersion } from './version-order.ts';
import { parseVersionRecord, type VersionRecord } from './version-record.ts';

export interface Coordinates {
  name: string;
  version: string;
  os: string;
  arch: string;
}

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
  private readonly byName = new Map<string, Map<string, Map<string, VersionRecord>>>();
  /** Bumped on every change so renderers can cache by it. */
  generation = 0;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  async load(): Promise<void> {
    for await (const obj of this.storage.list(layout.images)) {
      if (!layout.parseVersionRecord(obj.key)) continue;
      const bytes = await this.storage.get(obj.key);
      if (bytes) this.add(parseVersionRecord(bytes));
    }
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

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A specific version; consults storage when this index has not seen it yet. */
  async find(c: Coordinates): Promise<VersionRecord | undefined> {
    const known = this.byName.get(c.name)?.get(platform(c.os, c.arch))?.get(c.version);
    if (known) return known;
    const bytes = await this.storage.get(layout.versionRecord(c));
    if (!bytes) return undefined;
    const record = parseVersionRecord(bytes);
    this.add(record);
    return record;
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

  /** Blob keys that some known version record references. */
  referencedBlobs(): Set<string> {
    const out = new Set<string>();
    for (const platforms of this.byName.values()) {
      for (const versions of platforms.values()) for (const r of versions.values()) out.add(r.blob);
    }
    return out;
  }

  get size(): number {
    return this.names.length;
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
