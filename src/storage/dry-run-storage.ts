import { Readable } from 'node:stream';
import { layout } from './layout.ts';
import {
  KeyExistsError,
  KeyNotFoundError,
  type ByteRange,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.ts';

interface Held {
  /** null: a promoted image whose bytes were dropped (a rehearsal never reads them back). */
  data: Buffer | null;
  info: ObjectInfo;
}

async function collect(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A rehearsal over real storage (`acihost import --dry-run`): reads see the real objects,
 * writes and deletes outside tmp/ are held in memory and forgotten at close, so the same
 * publish code runs to its end and changes nothing. Staging (tmp/) stays on the real
 * storage, where it is cleaned up as usual, so large images never sit in memory; an image
 * promoted out of staging is dropped and only its size is kept.
 */
export class DryRunStorage implements Storage {
  private readonly base: Storage;
  private readonly held = new Map<string, Held>();
  private readonly deleted = new Set<string>();

  constructor(base: Storage) {
    this.base = base;
  }

  private real(key: string): boolean {
    return key.startsWith(layout.tmp);
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (this.real(key)) return this.base.read(key, range);
    const h = this.held.get(key);
    if (h?.data === null) throw new Error(`a dry run keeps no image bytes (${key})`);
    if (h) return Readable.from([range ? h.data.subarray(range.start, range.end + 1) : h.data]);
    if (this.deleted.has(key)) throw new KeyNotFoundError(key);
    return this.base.read(key, range);
  }

  async get(key: string): Promise<Buffer | null> {
    if (this.real(key)) return this.base.get(key);
    const h = this.held.get(key);
    if (h) return h.data;
    return this.deleted.has(key) ? null : this.base.get(key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    if (this.real(key)) return this.base.stat(key);
    const h = this.held.get(key);
    if (h) return h.info;
    return this.deleted.has(key) ? null : this.base.stat(key);
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    if (this.real(key)) return this.base.put(key, body, options);
    if (options.ifAbsent && (await this.stat(key))) throw new KeyExistsError(key);
    const data = await collect(body);
    // Another create-only put may have taken the key while this one waited.
    if (options.ifAbsent && this.held.has(key)) throw new KeyExistsError(key);
    const info = { key, size: data.length, modified: new Date() };
    this.held.set(key, { data, info });
    this.deleted.delete(key);
    return info;
  }

  async promote(from: string, to: string): Promise<void> {
    if (await this.stat(to)) throw new KeyExistsError(to);
    const source = await this.stat(from);
    if (!source) throw new KeyNotFoundError(from);
    const h = this.held.get(from);
    this.held.set(to, { data: h?.data ?? null, info: { ...source, key: to } });
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    if (this.real(key)) return this.base.delete(key);
    this.held.delete(key);
    this.deleted.add(key);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const after = options.startAfter ?? '';
    const mine = [...this.held.values()].map((h) => h.info).filter((i) => i.key.startsWith(prefix) && i.key > after);
    mine.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let i = 0;
    for await (const obj of this.base.list(prefix, options)) {
      while (i < mine.length && mine[i]!.key < obj.key) yield mine[i++]!;
      if (this.held.has(obj.key) || this.deleted.has(obj.key)) continue;
      yield obj;
    }
    yield* mine.slice(i);
  }

  async close(): Promise<void> {
    this.held.clear();
    this.deleted.clear();
    await this.base.close();
  }
}
