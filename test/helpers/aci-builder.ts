/**
 * Builds ACIs in memory for tests: tar-stream for the archive, node:zlib for
 * gzip, and the bzip2/xz command-line tools for those formats. No files, no
 * actool. Every knob exists to make one rule of src/aci fail on purpose.
 *
 *   const aci = await buildAci({ name: 'localhost/team/app', version: '1.0.0' });
 */
import { spawnSync } from 'node:child_process';
import { pack } from 'tar-stream';
import { gzipSync } from 'node:zlib';

export type AciCompression = 'gzip' | 'bzip2' | 'xz' | 'none';

export type AciEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo' | 'contiguous-file';

/** One tar entry, written exactly as given (no name cleaning). */
export interface AciEntry {
  name: string;
  type?: AciEntryType; // default 'file'
  body?: string | Buffer; // files only
  linkname?: string; // symlinks and hard links
  mode?: number;
  devmajor?: number;
  devminor?: number;
}

export interface BuildAciOptions {
  name?: string; // default 'example.com/app'
  /** Label values; null leaves the label out. Defaults: '1.0.0', 'linux', 'amd64'. */
  version?: string | null;
  os?: string | null;
  arch?: string | null;
  labels?: { name: string; value: string }[]; // extra labels after version/os/arch
  /** Merged over the generated manifest object (e.g. { app: {...} }). */
  manifestPatch?: Record<string, unknown>;
  /** Replaces the manifest body entirely: raw bytes, a string, or an object to serialise. */
  manifest?: string | Buffer | Record<string, unknown>;
  /** Leave out the generated 'manifest' and/or 'rootfs' entries. */
  omit?: ('manifest' | 'rootfs')[];
  /** false: no rootfs/etc and rootfs/etc/hello sample content. Default true. */
  sampleContent?: boolean;
  /** Extra entries, appended after the generated ones. */
  entries?: AciEntry[];
  /** Put the manifest after everything else (rkt allows it anywhere). */
  manifestLast?: boolean;
  compression?: AciCompression; // default 'gzip'
}

/** A minimal valid manifest with version/os/arch labels, as actool would accept it. */
export function manifestJson(name: string, version: string, os = 'linux', arch = 'amd64'): string {
  return JSON.stringify(manifestObject({ name, version, os, arch }));
}

function manifestObject(o: BuildAciOptions): Record<string, unknown> {
  const wanted = { version: o.version, os: o.os, arch: o.arch };
  const defaults = { version: '1.0.0', os: 'linux', arch: 'amd64' };
  const labels = Object.entries(wanted)
    .map(([n, v]) => ({ name: n, value: v === undefined ? defaults[n as keyof typeof defaults] : v }))
    .filter((l): l is { name: string; value: string } => l.value !== null);
  return {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: o.name ?? 'example.com/app',
    labels: [...labels, ...(o.labels ?? [])],
    ...o.manifestPatch,
  };
}

function manifestBytes(o: BuildAciOptions): Buffer {
  const m = o.manifest ?? manifestObject(o);
  if (Buffer.isBuffer(m)) return m;
  return Buffer.from(typeof m === 'string' ? m : JSON.stringify(m));
}

function generatedEntries(o: BuildAciOptions): AciEntry[] {
  const omit = new Set(o.omit ?? []);
  const manifest: AciEntry[] = omit.has('manifest') ? [] : [{ name: 'manifest', body: manifestBytes(o) }];
  const rootfs: AciEntry[] = omit.has('rootfs') ? [] : [{ name: 'rootfs', type: 'directory' }];
  const sample: AciEntry[] =
    o.sampleContent === false
      ? []
      : [
          { name: 'rootfs/etc', type: 'directory' },
          { name: 'rootfs/etc/hello', body: 'hello from an ACI\n' },
        ];
  const rest = [...rootfs, ...sample, ...(o.entries ?? [])];
  return o.manifestLast ? [...rest, ...manifest] : [...manifest, ...rest];
}

/** A tar archive of exactly these entries. */
export async function buildTar(entries: readonly AciEntry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode, linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor };
    if (type === 'file' || type === 'contiguous-file') tar.entry(header, e.body ?? '');
    else if (type === 'symlink' && !e.linkname)
      tar.entry(header).end(undefined); // tar-stream awaits a target otherwise
    else tar.entry(header);
  }
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Compresses a tar with node:zlib, or with the bzip2/xz tools. */
export function compress(tar: Buffer, compression: AciCompression): Buffer {
  if (compression === 'none') return tar;
  if (compression === 'gzip') return gzipSync(tar);
  const run = spawnSync(compression, ['-c'], { input: tar, maxBuffer: 2 * tar.length + 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${compression} -c failed: ${String(run.stderr)}`);
  return run.stdout;
}

export async function buildAci(options: BuildAciOptions = {}): Promise<Buffer> {
  const tar = await buildTar(generatedEntries(options));
  return compress(tar, options.compression ?? 'gzip');
}
