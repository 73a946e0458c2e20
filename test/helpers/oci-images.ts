/**
 * A standard set of OCI images, built with Debian's umoci in one layout, for
 * conversion tests. Needs root (mknod, chown), as the test machines run.
 *
 *   const layout = await buildStandardImages(await tempDir('oci-'));
 *   // tags: STANDARD_IMAGES.full, .plain, .namedUser
 *
 * `full` has, layer by layer (bottom first):
 *   1. /etc/passwd and /etc/group (root, daemon); /a/f, /a/g; /h/a-target with its hard links /h/b-link, /h/c-link; /h2/a with /h2/b;
 *      /o/old1, /o/old2; /w/gone, /w/kept; /x (a file); /y/child (a directory);
 *      /s/rel -> ../a/f, /s/abs -> /a/f, /s/dangling -> /nowhere; /dev/null-ish
 *      character device 1:3; /fifo; /modes/setuid (4755), /modes/private (0600),
 *      /modes/sticky (1777 directory), /modes/owned (1234:5678)
 *   2. /h/a-target replaced (its links keep the old content)
 *   3. whiteouts of /w/gone and /h2/a (whose link /h2/b keeps the content)
 *   4. /o made opaque with only /o/new; /x a directory with /x/inside; /y a file
 * and a config with Entrypoint, Cmd, User 1000:1000, Env, WorkingDir, ExposedPorts,
 * Volumes and Labels. `plain` is layer 1 with no command; `namedUser` is layer 1
 * with `User: daemon` and an Entrypoint only.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { buildTar } from './aci-builder.ts';
import type { AciEntry } from './aci-builder.ts';

export const STANDARD_IMAGES = { full: 'full', plain: 'plain', namedUser: 'named-user' } as const;

const umoci = (...args: string[]): void => void execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function dir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** Layer 1's tree, under `root`. */
function baseTree(root: string): void {
  // Runtimes (and umoci unpack) look a named user up here.
  writeFileSync(join(dir(join(root, 'etc')), 'passwd'), 'root:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\ndaemon:x:1:\n');
  writeFileSync(join(dir(join(root, 'a')), 'f'), 'the file f\n');
  writeFileSync(join(root, 'a/g'), 'the file g\n');
  writeFileSync(join(dir(join(root, 'h')), 'a-target'), 'first content of a-target\n');
  linkSync(join(root, 'h/a-target'), join(root, 'h/b-link'));
  linkSync(join(root, 'h/a-target'), join(root, 'h/c-link'));
  writeFileSync(join(dir(join(root, 'h2')), 'a'), 'h2 content\n');
  linkSync(join(root, 'h2/a'), join(root, 'h2/b'));
  writeFileSync(join(dir(join(root, 'o')), 'old1'), 'old1\n');
  writeFileSync(join(root, 'o/old2'), 'old2\n');
  writeFileSync(join(dir(join(root, 'w')), 'gone'), 'to be whited out\n');
  writeFileSync(join(root, 'w/kept'), 'kept\n');
  writeFileSync(join(root, 'x'), 'x is a file first\n');
  writeFileSync(join(dir(join(root, 'y')), 'child'), 'y is a directory first\n');
  dir(join(root, 's'));
  symlinkSync('../a/f', join(root, 's/rel'));
  symlinkSync('/a/f', join(root, 's/abs'));
  symlinkSync('/nowhere', join(root, 's/dangling'));
  dir(join(root, 'dev'));
  execFileSync('mknod', [join(root, 'dev/null-like'), 'c', '1', '3']);
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const modes = dir(join(root, 'modes'));
  writeFileSync(join(modes, 'setuid'), '#!/bin/sh\n');
  chmodSync(join(modes, 'setuid'), 0o4755);
  writeFileSync(join(modes, 'private'), 'secret\n');
  chmodSync(join(modes, 'private'), 0o600);
  chmodSync(dir(join(modes, 'sticky')), 0o1777);
  writeFileSync(join(modes, 'owned'), 'owned\n');
  chownSync(join(modes, 'owned'), 1234, 5678);
}

function newImage(layout: string, tag: string, base: string): void {
  umoci('new', '--image', `${layout}:${tag}`);
  umoci('insert', '--image', `${layout}:${tag}`, base, '/');
}

/** Builds the standard images into `work/layout`; returns the layout's path. */
export async function buildStandardImages(work: string): Promise<string> {
  const layout = join(work, 'layout');
  umoci('init', '--layout', layout);
  const base = dir(join(work, 'base'));
  baseTree(base);

  const full = `${layout}:${STANDARD_IMAGES.full}`;
  newImage(layout, STANDARD_IMAGES.full, base);
  const replaced = join(work, 'replaced');
  writeFileSync(replaced, 'second content of a-target\n');
  umoci('insert', '--image', full, replaced, '/h/a-target');
  umoci('insert', '--image', full, '--whiteout', '/w/gone');
  umoci('insert', '--image', full, '--whiteout', '/h2/a');
  const opaque = dir(join(work, 'opaque'));
  writeFileSync(join(opaque, 'new'), 'new\n');
  umoci('insert', '--image', full, '--opaque', opaque, '/o');
  const xDir = dir(join(work, 'x-dir'));
  writeFileSync(join(xDir, 'inside'), 'x is a directory now\n');
  umoci('insert', '--image', full, xDir, '/x');
  const yFile = join(work, 'y-file');
  writeFileSync(yFile, 'y is a file now\n');
  umoci('insert', '--image', full, yFile, '/y');
  umoci(
    'config',
    '--image',
    full,
    '--config.entrypoint',
    '/bin/server',
    '--config.cmd',
    '--listen',
    '--config.cmd',
    ':8080',
    '--config.user',
    '1000:1000',
    '--config.env',
    'PATH=/usr/bin:/bin',
    '--config.env',
    'GREETING=hello=world',
    '--config.workingdir',
    '/srv',
    '--config.exposedports',
    '8080/tcp',
    '--config.exposedports',
    '53/udp',
    '--config.volume',
    '/var/lib/data',
    '--config.volume',
    '/cache',
    '--config.label',
    'maintainer=someone@example.com',
    '--author',
    'Someone <someone@example.com>',
  );

  newImage(layout, STANDARD_IMAGES.plain, base);

  const named = `${layout}:${STANDARD_IMAGES.namedUser}`;
  newImage(layout, STANDARD_IMAGES.namedUser, base);
  umoci('config', '--image', named, '--config.entrypoint', '/bin/true', '--config.user', 'daemon');
  return layout;
}

/** `umoci unpack`'s rootfs of an image: what a runtime would see. */
export function unpackImage(layout: string, tag: string, bundle: string): string {
  umoci('unpack', '--image', `${layout}:${tag}`, bundle);
  return join(bundle, 'rootfs');
}

/** One hand-made layer: its tar entries (written exactly as given) and how it is compressed. */
export interface HandLayer {
  entries: AciEntry[];
  compression?: 'none' | 'gzip' | 'zstd';
  /** Overrides the media type the compression implies (Docker's `tar.gzip`, or a bogus one). */
  mediaType?: string;
  /** Raw layer bytes instead of `entries` (a bomb, a truncated stream). */
  raw?: Buffer;
}

const LAYER_TYPES = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

function putBlob(layout: string, bytes: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layout, 'blobs/sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * Writes an OCI layout of one image, tagged `tag`, from hand-made layers (for
 * what umoci will not make: zstd, escaping paths, bombs). `config` is merged
 * over a linux/amd64 config.
 */
export async function writeLayout(layout: string, tag: string, layers: HandLayer[], config: Record<string, unknown> = {}): Promise<void> {
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const descriptors = [];
  for (const layer of layers) {
    const compression = layer.compression ?? 'gzip';
    const tar = layer.raw ?? (await buildTar(layer.entries));
    const bytes = layer.raw ?? (compression === 'gzip' ? gzipSync(tar) : compression === 'zstd' ? zstdCompressSync(tar) : tar);
    descriptors.push({ mediaType: layer.mediaType ?? LAYER_TYPES[compression], ...putBlob(layout, bytes) });
  }
  const configBlob = putBlob(
    layout,
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, ...config })),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: descriptors,
    }),
  );
  const m = putBlob(layout, manifest);
  const indexFile = join(layout, 'index.json');
  const index = existsSync(indexFile)
    ? (JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: unknown[] })
    : { schemaVersion: 2, manifests: [] as unknown[] };
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...m,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  writeFileSync(indexFile, JSON.stringify(index));
}
