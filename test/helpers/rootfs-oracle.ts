/**
 * Compares a converted ACI's rootfs with a reference unpacking on disk (such as
 * `umoci unpack`), entry by entry: paths, types, modes, owners, link targets,
 * content hashes, device numbers, and which files are hard links of each other.
 *
 *   const problems = compareTrees(readDiskTree(rootfs), (await readAci(aci)).tree);
 *   assert.deepEqual(problems, []);
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

export type NodeType = 'file' | 'directory' | 'symlink' | 'character-device' | 'block-device' | 'fifo';

export interface TreeNode {
  type: NodeType;
  /** Permission bits with setuid, setgid and sticky; symlinks have none worth comparing. */
  mode?: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  sha256?: string;
  device?: [number, number];
  /** The sorted paths of every name of the same file (hard links), when there is more than one. */
  links?: string[];
}

/** Paths below the rootfs ('a/b'), to what is there. */
export type Tree = Map<string, TreeNode>;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function groupLinks(tree: Tree, groups: Map<string, string[]>): void {
  for (const paths of groups.values()) {
    if (paths.length < 2) continue;
    const sorted = [...paths].sort();
    for (const p of sorted) tree.get(p)!.links = sorted;
  }
}

/** What is on disk under `root`. */
export function readDiskTree(root: string): Tree {
  const tree: Tree = new Map();
  const inodes = new Map<string, string[]>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = lstatSync(full);
      const base = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
      if (st.isDirectory()) {
        tree.set(path, { type: 'directory', ...base });
        walk(path);
      } else if (st.isSymbolicLink()) {
        tree.set(path, { type: 'symlink', uid: st.uid, gid: st.gid, linkTarget: readlinkSync(full) });
      } else if (st.isFile()) {
        tree.set(path, { type: 'file', ...base, sha256: sha256(readFileSync(full)) });
        if (st.nlink > 1) inodes.set(`${st.dev}:${st.ino}`, [...(inodes.get(`${st.dev}:${st.ino}`) ?? []), path]);
      } else {
        const type: NodeType = st.isCharacterDevice() ? 'character-device' : st.isBlockDevice() ? 'block-device' : 'fifo';
        const rdev = st.rdev;
        const device: [number, number] | undefined =
          type === 'fifo' ? undefined : [(rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
        tree.set(path, { type, ...base, ...(device && { device }) });
      }
    }
  };
  walk('');
  groupLinks(tree, inodes);
  return tree;
}

export interface AciContents {
  manifest: Record<string, unknown>;
  /** Entry names in archive order, as written. */
  names: string[];
  tree: Tree;
}

/** A gzip (or plain) ACI's manifest and rootfs, as tar-stream reads it. */
export async function readAci(aci: Buffer): Promise<AciContents> {
  const tar = aci[0] === 0x1f && aci[1] === 0x8b ? gunzipSync(aci) : aci;
  const tree: Tree = new Map();
  const names: string[] = [];
  const groups = new Map<string, string[]>();
  let manifest: Record<string, unknown> = {};
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      names.push(h.name);
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      if (h.name === 'manifest') {
        manifest = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        continue;
      }
      const path = h.name.replace(/^rootfs\/?/, '').replace(/\/$/, '');
      if (path === '') continue;
      const base = { uid: h.uid, gid: h.gid, mode: h.mode & 0o7777 };
      if (h.type === 'link') {
        const target = h.linkname.replace(/^rootfs\//, '');
        const node = tree.get(target);
        if (node === undefined) throw new Error(`hard link ${h.name} names ${h.linkname}, not an earlier entry`);
        tree.set(path, node); // one file, two names: the same node
        groups.set(target, [...(groups.get(target) ?? [target]), path]);
      } else if (h.type === 'symlink') {
        tree.set(path, { type: 'symlink', uid: h.uid, gid: h.gid, linkTarget: h.linkname });
      } else if (h.type === 'file' || h.type === 'directory' || h.type === 'fifo') {
        tree.set(path, { type: h.type, ...base, ...(h.type === 'file' && { sha256: sha256(body) }) });
      } else if (h.type === 'character-device' || h.type === 'block-device') {
        tree.set(path, { type: h.type, ...base, device: [h.devmajor, h.devminor] });
      } else {
        throw new Error(`unexpected entry type ${h.type} at ${h.name}`);
      }
    }
  })();
  ex.end(tar);
  await done;
  // Hard links share a node above; give each name a node of its own with the group.
  for (const [target, paths] of groups) {
    const sorted = [...paths].sort();
    for (const p of paths) tree.set(p, { ...tree.get(target)!, links: sorted });
  }
  return { manifest, names, tree };
}

/** Every difference between the trees, one line each; empty when they agree. */
export function compareTrees(expected: Tree, actual: Tree): string[] {
  const problems: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (got === undefined) {
      problems.push(`${path}: missing (${want.type})`);
      continue;
    }
    for (const key of ['type', 'mode', 'uid', 'gid', 'linkTarget', 'sha256', 'device', 'links'] as const) {
      if (key === 'mode' && want.type === 'symlink') continue;
      const [w, g] = [JSON.stringify(want[key]), JSON.stringify(got[key])];
      if (w !== g) problems.push(`${path}: ${key} ${g}, expected ${w}`);
    }
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`${path}: not expected`);
  return problems;
}
