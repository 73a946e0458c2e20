/**
 * Docker/OCI layers applied in order into one ACI: `manifest`, then `rootfs`
 * and every path's final version once, as a tar stream (OCI image-spec
 * `layer.md`: whiteouts `.wh.NAME`, opaque directories `.wh..wh..opq`).
 *
 * Three passes, none holding a layer in memory:
 *   1. spool each layer, unpacked, to a scratch file as it arrives (the later
 *      passes read plain tar: each layer is decompressed once);
 *   2. read the layers' headers top to bottom, deciding which entries survive:
 *      an entry is shadowed by a higher layer's entry at its path, a whiteout of it
 *      or of a directory above it, an opaque directory above it, a non-directory
 *      above it, and a non-directory also by a higher layer's entry below it
 *      (which needs it to be a directory). The paths are kept as hashes
 *      (path-marks.ts), so the index stays small;
 *   3. read the layers bottom to top, writing the survivors. A hard link follows
 *      its target, which comes earlier in its own layer; when that target is
 *      shadowed, the first surviving link carries the content instead and the
 *      others link to it. Parent directories no layer keeps are made (0755, root).
 *
 * The output's entries go through the same rules as a pushed ACI's
 * (src/aci/tar-rules.ts: no '..', links inside rootfs, entry count), and the
 * layers' entries are counted against `maxEntries` and their unpacked bytes
 * against `maxUncompressedBytes` as they are read, so a layer bomb stops early.
 * The scratch files go whatever happens: success, failure or abort.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { isUtf8 } from 'node:buffer';
import { Readable, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack as createPack } from 'tar-stream';
import type { Header, Pack } from 'tar-stream';
import { invalid, tooLarge } from '../errors.ts';
import { showPath } from '../aci/entry-path.ts';
import { ArchiveLayout } from '../aci/tar-rules.ts';
import { toTarEntry } from '../aci/tar-entry.ts';
import type { TarHeader } from '../aci/tar-entry.ts';
import type { Descriptor } from './image-source.ts';
import { ByteBudget, eachEntry, layerCompression, spoolLayer } from './layer-reader.ts';
import { PathMarks } from './path-marks.ts';

/** One layer, bottom first: its descriptor and a way to open its (digest-checked) bytes. */
export interface LayerInput {
  descriptor: Descriptor;
  open(signal?: AbortSignal): Promise<Readable>;
}

export interface FlattenLimits {
  maxUncompressedBytes: number;
  maxEntries: number;
  maxPathBytes: number;
}

export interface FlattenOptions {
  layers: readonly LayerInput[];
  /** The `manifest` entry's bytes. */
  manifest: Buffer;
  limits: FlattenLimits;
  /** A directory for the spooled layers; a fresh subdirectory is made and removed in it. */
  scratchDir: string;
  signal?: AbortSignal;
}

const ROOTFS = 'rootfs';
const OPAQUE = '.wh..wh..opq';
const WHITEOUT = '.wh.';
/** The output's chunks: small, so a slow reader holds little. */
const HIGH_WATER_MARK = 64 * 1024;
/** Directories no layer keeps, but a kept path lies under. */
const MADE_DIRECTORY_MODE = 0o755;
/** ustar holds 6 octal digits of uid and gid; larger ones go in a PAX record. */
const MAX_USTAR_ID = 0o777777;

/** What pass 3 does with an entry. */
const SKIP = 0;
const EMIT = 1;
/** A shadowed hard-link target whose content goes out under its first surviving link. */
const CARRY = 2;

/** Grows as entries are read: one plan byte per entry of a layer. */
class Plan {
  #codes = new Uint8Array(256);
  /** Entry → another name: a carrier's output name, or a hard link's new target. */
  readonly renamed = new Map<number, string>();

  get(k: number): number {
    return k < this.#codes.length ? this.#codes[k]! : SKIP;
  }

  set(k: number, code: number): void {
    if (k >= this.#codes.length) {
      const grown = new Uint8Array(Math.max(k + 1, this.#codes.length * 2));
      grown.set(this.#codes);
      this.#codes = grown;
    }
    this.#codes[k] = code;
  }
}

interface LinkGroup {
  target: number;
  links: { ordinal: number; path: string }[];
}

const layerName = (d: Descriptor): string => d.digest;

/** The path below rootfs, as segments of a byte string: './', '/' and empty segments dropped. */
function entrySegments(name: string, layer: Descriptor, limits: FlattenLimits): string[] {
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw invalid('ARCHIVE_PATH_TRAVERSAL', `the layer ${layerName(layer)} has the entry ${showPath(name)}, which climbs out with ".."`);
  }
  // The output name is "rootfs/" and the path; it must fit the ACI rules.
  if (name.length + ROOTFS.length + 1 > limits.maxPathBytes) {
    throw invalid(
      'ARCHIVE_PATH_TOO_LONG',
      `the layer ${layerName(layer)} has an entry ${showPath(name.slice(0, 60))} of ${name.length} bytes, over this server's limit of ${limits.maxPathBytes}`,
    );
  }
  if (name.includes('\0') || !isUtf8(Buffer.from(name, 'latin1'))) {
    throw invalid('ARCHIVE_NAME_NOT_UTF8', `the layer ${layerName(layer)} has an entry ${showPath(name)} whose name is not UTF-8`);
  }
  return segments;
}

const prefixes = (segments: readonly string[]): string[] => segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));

/** What the layers leave, decided top to bottom (pass 2). */
class Survivors {
  readonly #limits: FlattenLimits;
  /** Per path, the highest layer with: an entry, a whiteout of it, it opaque, a non-directory there, an entry below it. */
  readonly #entry = new PathMarks();
  readonly #whiteout = new PathMarks();
  readonly #opaque = new PathMarks();
  readonly #nonDirectory = new PathMarks();
  readonly #implied = new PathMarks();
  /** Paths some layer's entry survives at (the layer), so pass 3 knows which parents to make. */
  readonly kept = new PathMarks();
  #entries = 0;

  constructor(limits: FlattenLimits) {
    this.#limits = limits;
  }

  async layer(file: string, layer: Descriptor, index: number, signal?: AbortSignal): Promise<Plan> {
    const plan = new Plan();
    const ordinals = new PathMarks(); // path → its entry in this layer
    const groups = new Map<number, LinkGroup>(); // hard-link target entry → links to it
    const linkTo = new Map<number, number>(); // a hard link entry → its group's target
    await eachEntry(file, layer, signal, async (header, _body, k) => {
      this.#count();
      const entry = toTarEntry(header as TarHeader);
      if (entry.type === 'unsupported') {
        throw invalid(
          'ARCHIVE_ENTRY_TYPE_UNSUPPORTED',
          `the layer ${layerName(layer)} has the entry ${showPath(entry.name)} of a tar type that cannot be converted (${String(header.type)})`,
        );
      }
      const segments = entrySegments(entry.name, layer, this.#limits);
      if (segments.length === 0) return; // the layer's own root
      const base = segments[segments.length - 1]!;
      const parent = segments.slice(0, -1).join('/');
      if (base === OPAQUE) return void this.#opaque.markFirst(parent, index);
      if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // aufs's own bookkeeping, never content
      if (base.startsWith(WHITEOUT)) {
        const gone = base.slice(WHITEOUT.length);
        return void this.#whiteout.markFirst(parent === '' ? gone : `${parent}/${gone}`, index);
      }
      const path = segments.join('/');
      const directory = entry.type === 'directory';
      if (!ordinals.markFirst(path, k)) {
        if (directory) return; // a directory archived twice: the first one stands
        throw invalid('ARCHIVE_DUPLICATE_ENTRY', `the layer ${layerName(layer)} holds ${showPath(path)} more than once`);
      }
      if (!this.#shadowed(path, segments, index, directory)) {
        plan.set(k, EMIT);
        this.kept.markFirst(path, index);
      }
      this.#entry.markFirst(path, index);
      if (!directory) this.#nonDirectory.markFirst(path, index);
      for (const above of prefixes(segments).reverse()) if (!this.#implied.markFirst(above, index)) break;
      if (entry.type === 'link') this.#link(entry.linkname, k, path, ordinals, groups, linkTo, layer);
    });
    this.#carry(plan, groups);
    return plan;
  }

  #count(): void {
    if (++this.#entries > this.#limits.maxEntries) {
      throw tooLarge(
        'ARCHIVE_TOO_MANY_ENTRIES',
        `the image's layers hold more than ${this.#limits.maxEntries} entries together, the most this server converts (limits.maxEntries)`,
      );
    }
  }

  #shadowed(path: string, segments: readonly string[], index: number, directory: boolean): boolean {
    if (this.#entry.get(path) > index || this.#whiteout.get(path) > index) return true;
    if (!directory && this.#implied.get(path) > index) return true;
    return prefixes(segments).some(
      (above) => this.#whiteout.get(above) > index || this.#opaque.get(above) > index || this.#nonDirectory.get(above) > index,
    );
  }

  /** Files the link under its target's group when the target is an earlier entry of this layer. */
  #link(
    linkname: string,
    k: number,
    path: string,
    ordinals: PathMarks,
    groups: Map<number, LinkGroup>,
    linkTo: Map<number, number>,
    layer: Descriptor,
  ): void {
    const target = entrySegments(linkname, layer, this.#limits).join('/');
    const at = ordinals.get(target);
    if (at === -1 || at === k) return; // not in this layer: the output rules judge it
    const root = linkTo.get(at) ?? at;
    linkTo.set(k, root);
    let group = groups.get(root);
    if (group === undefined) groups.set(root, (group = { target: root, links: [] }));
    group.links.push({ ordinal: k, path });
  }

  /** A shadowed target's content goes out under its first surviving link; the other links follow that one. */
  #carry(plan: Plan, groups: Map<number, LinkGroup>): void {
    for (const group of groups.values()) {
      const surviving = group.links.filter((l) => plan.get(l.ordinal) === EMIT);
      const targetKept = plan.get(group.target) === EMIT;
      // A link to a chained link names the chain's first file.
      if (targetKept || surviving.length === 0) continue;
      const [carrier, ...rest] = surviving as [LinkGroup['links'][number], ...LinkGroup['links']];
      plan.set(group.target, CARRY);
      plan.renamed.set(group.target, carrier.path);
      plan.set(carrier.ordinal, SKIP);
      for (const l of rest) plan.renamed.set(l.ordinal, carrier.path);
    }
  }
}

/** A header to write: tar-stream's, with PAX records. */
type OutHeader = Partial<Omit<Header, 'pax'>> & { name: string; pax?: Record<string, string> };

/** Byte string (one char per byte) → the string tar-stream should write. */
const utf8 = (bytes: string): string => Buffer.from(bytes, 'latin1').toString('utf8');

/** The output header of an entry: under rootfs, its owner, mode, times and device kept. */
function outputHeader(h: Header, path: string, linkTarget: string | undefined): OutHeader {
  const out: OutHeader = {
    name: utf8(`${ROOTFS}/${path}`),
    type: h.type === 'contiguous-file' ? 'file' : h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    uname: h.uname,
    gname: h.gname,
    mtime: h.mtime,
    size: h.type === 'file' || h.type === 'contiguous-file' ? h.size : 0,
    devmajor: h.devmajor,
    devminor: h.devminor,
  };
  if (h.type === 'link') out.linkname = utf8(`${ROOTFS}/${linkTarget}`);
  else if (h.type === 'symlink') out.linkname = utf8(h.linkname ?? '');
  const pax: Record<string, string> = {};
  if ((h.uid ?? 0) > MAX_USTAR_ID) [pax.uid, out.uid] = [String(h.uid), 0];
  if ((h.gid ?? 0) > MAX_USTAR_ID) [pax.gid, out.gid] = [String(h.gid), 0];
  if (Object.keys(pax).length > 0) out.pax = pax;
  return out;
}

/** Writes the output of pass 3, checking every entry by the ACI rules as it goes. */
class Writer {
  readonly pack: Pack = createPack({ highWaterMark: HIGH_WATER_MARK });
  readonly #layout: ArchiveLayout;
  readonly #kept: PathMarks;
  readonly #made = new PathMarks();

  constructor(limits: FlattenLimits, kept: PathMarks) {
    this.#layout = new ArchiveLayout(limits);
    this.#kept = kept;
  }

  async entry(header: OutHeader, body?: AsyncIterable<Buffer>): Promise<void> {
    const bytes = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'utf8').toString('latin1'));
    // The rules read byte strings; PAX records (which these names go in when long) are UTF-8.
    this.#layout.accept(toTarEntry({ ...header, name: bytes(header.name)!, linkname: bytes(header.linkname) }));
    let sink: ReturnType<Pack['entry']> | undefined;
    const written = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry(header as Header, (e) => (e ? reject(e) : resolve()));
    });
    // The pack destroyed mid-entry (the reader of the ACI gone) ends the entry with an error:
    // the copy below stops at it, rather than wait for a drain that never comes.
    written.catch(() => {});
    if (body !== undefined && header.size) {
      for await (const chunk of body) {
        if (!sink!.write(chunk)) await Promise.race([once(sink!, 'drain'), written]);
      }
    }
    sink!.end(undefined);
    await written;
  }

  /** Makes the directories above `path` that no layer keeps. */
  async parents(path: string): Promise<void> {
    for (const above of prefixes(path.split('/'))) {
      if (this.#kept.get(above) !== -1 || !this.#made.markFirst(above, 0)) continue;
      await this.entry({
        name: utf8(`${ROOTFS}/${above}`),
        type: 'directory',
        mode: MADE_DIRECTORY_MODE,
        uid: 0,
        gid: 0,
        mtime: new Date(0),
      });
    }
  }

  finish(): void {
    this.#layout.finish();
    this.pack.finalize();
  }
}

/** Pass 1: every layer unpacked into a scratch file, its bytes counted against the cap of them all. */
async function spool(layers: readonly LayerInput[], dir: string, budget: ByteBudget, signal?: AbortSignal): Promise<string[]> {
  const files: string[] = [];
  for (const [i, layer] of layers.entries()) {
    layerCompression(layer.descriptor); // refuse an unknown media type before fetching it
    const file = join(dir, `layer-${i}.tar`);
    await spoolLayer(await layer.open(signal), file, layer.descriptor, budget, signal);
    files.push(file);
  }
  return files;
}

/** Pass 3: the layers bottom to top, as the plans say. */
async function emit(writer: Writer, options: FlattenOptions, files: string[], plans: Plan[]): Promise<void> {
  const now = new Date(0);
  await writer.entry(
    { name: 'manifest', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: now, size: options.manifest.length },
    Readable.from([options.manifest]),
  );
  await writer.entry({ name: ROOTFS, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: now });
  for (const [i, layer] of options.layers.entries()) {
    const plan = plans[i]!;
    await eachEntry(files[i]!, layer.descriptor, options.signal, async (header, body, k) => {
      const code = plan.get(k);
      if (code === SKIP) return;
      const entry = toTarEntry(header as TarHeader);
      const path = code === CARRY ? plan.renamed.get(k)! : entrySegments(entry.name, layer.descriptor, options.limits).join('/');
      const linkTarget =
        entry.type === 'link'
          ? (plan.renamed.get(k) ?? entrySegments(entry.linkname, layer.descriptor, options.limits).join('/'))
          : undefined;
      await writer.parents(path);
      await writer.entry(outputHeader(header, path, linkTarget), body);
    });
  }
  writer.finish();
}

/** Counts the output tar's bytes against the cap a pushed ACI's unpacked size meets. */
function outputMeter(max: number): Transform {
  let size = 0;
  return new Transform({
    highWaterMark: HIGH_WATER_MARK,
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) {
        return cb(
          tooLarge(
            'UNCOMPRESSED_TOO_LARGE',
            `the converted image is larger than this server's limit of ${max} bytes (limits.maxUncompressedBytes)`,
          ),
        );
      }
      cb(null, chunk);
    },
  });
}

/**
 * Fetches and indexes the layers, then resolves to the ACI as an uncompressed tar
 * stream. Rejects (with a typed error) when a layer cannot be fetched or breaks a
 * rule its headers show; a failure while streaming destroys the stream with it.
 */
export async function flattenLayers(options: FlattenOptions): Promise<Readable> {
  const dir = await mkdtemp(join(options.scratchDir, 'flatten-'));
  const cleanup = () => rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  try {
    options.signal?.throwIfAborted();
    const files = await spool(options.layers, dir, new ByteBudget(options.limits.maxUncompressedBytes), options.signal);
    const survivors = new Survivors(options.limits);
    const plans: Plan[] = [];
    for (let i = options.layers.length - 1; i >= 0; i--) {
      plans[i] = await survivors.layer(files[i]!, options.layers[i]!.descriptor, i, options.signal);
    }
    const writer = new Writer(options.limits, survivors.kept);
    const out = outputMeter(options.limits.maxUncompressedBytes);
    // Node's own stream over tar-stream's (streamx) one: a reader's pace reaches the layers.
    const tar = Readable.from(writer.pack, { objectMode: false, highWaterMark: HIGH_WATER_MARK });
    tar.on('error', (e) => out.destroy(e));
    tar.pipe(out);
    const stop = () => out.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    options.signal?.addEventListener('abort', stop, { once: true });
    // The scratch files go once the stream is over, however it ended.
    out.once('close', () => {
      options.signal?.removeEventListener('abort', stop);
      writer.pack.destroy();
      void cleanup();
    });
    emit(writer, options, files, plans).catch((e: unknown) => {
      out.destroy(e instanceof Error ? e : new Error(String(e)));
    });
    return out;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The ACI tar gzip-compressed at `level` (1-9), as rkt reads ACIs. */
export function gzipAci(tar: Readable, level: number): Readable {
  const gzip = createGzip({ level, chunkSize: HIGH_WATER_MARK });
  tar.on('error', (e) => gzip.destroy(e));
  gzip.once('close', () => {
    if (!tar.destroyed) tar.destroy();
  });
  return tar.pipe(gzip);
}
