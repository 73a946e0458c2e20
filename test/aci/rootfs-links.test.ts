/**
 * Symlink resolution across an archive: the layout rules against chains of
 * links, and a property test whose oracle is GNU tar itself: the archive is
 * extracted, and every link left in the tree is resolved through the real files.
 */
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArchiveLayout } from '../../src/aci/tar-rules.ts';
import type { TarEntry } from '../../src/aci/tar-entry.ts';
import { isAcihostError } from '../../src/errors.ts';
import { buildTar, type AciEntry } from '../helpers/aci-builder.ts';

const LIMITS = { maxEntries: 100_000, maxPathBytes: 4096 };

/** The code the layout rules answer for these entries (after manifest and rootfs), or 'accepted'. */
function verdict(entries: readonly AciEntry[]): string {
  const layout = new ArchiveLayout(LIMITS);
  const all: AciEntry[] = [{ name: 'manifest' }, { name: 'rootfs', type: 'directory' }, ...entries];
  try {
    for (const e of all) layout.accept({ name: e.name, linkname: e.linkname ?? '', type: e.type ?? 'file', size: 0 } as TarEntry);
    layout.finish();
    return 'accepted';
  } catch (e) {
    if (!isAcihostError(e)) throw e;
    return e.code;
  }
}

const link = (name: string, linkname: string): AciEntry => ({ name: `rootfs/${name}`, type: 'symlink', linkname });
const dir = (name: string): AciEntry => ({ name: `rootfs/${name}`, type: 'directory' });
const file = (name: string): AciEntry => ({ name: `rootfs/${name}` });

/** True when an entry's path runs through a symlink an earlier entry made. */
const pathThroughLink = (entries: readonly AciEntry[]): boolean =>
  entries.some((e, i) => entries.slice(0, i).some((l) => l.type === 'symlink' && e.name.startsWith(`${l.name}/`)));

describe('links resolved across the archive', () => {
  test('single links: relative targets climb from the link directory, absolute ones stay inside', () => {
    assert.equal(verdict([link('bin/sh', 'busybox')]), 'accepted');
    assert.equal(verdict([link('bin/sh', '../usr/bin/busybox')]), 'accepted');
    assert.equal(verdict([link('bin/sh', '../../etc/passwd')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([link('sh', '..')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([link('sh', '.')]), 'accepted');
    assert.equal(verdict([link('a/b/c', 'x/../../..')]), 'accepted');
    assert.equal(verdict([link('a/b/c', 'x/../../../..')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([link('a/b', '../../x/..')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([link('sh', '/bin/busybox')]), 'accepted');
    assert.equal(verdict([link('sh', '/../../../etc/shadow')]), 'accepted');
  });

  test('a chain through an earlier link that climbs out is refused', () => {
    assert.equal(verdict([link('d1/d2', '..'), link('l', 'd1/d2/..')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([link('d1/d2', '..'), link('l', 'd1/d2/x')]), 'accepted');
    assert.equal(verdict([link('up', '.'), link('deep/l', '../up/up/up/..')]), 'ARCHIVE_LINK_ESCAPES');
  });

  test('a later link that makes an earlier one climb out is refused', () => {
    assert.equal(verdict([link('x', 'a/..'), link('a', '.')]), 'ARCHIVE_LINK_ESCAPES');
  });

  test('an entry placed through a link lands where the link leads', () => {
    // b/d is really d, one level up from where b/d/.. suggests.
    assert.equal(verdict([link('b', '.'), link('b/l', '../x')]), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([dir('sub'), link('b', 'sub'), link('b/l', '../x')]), 'accepted');
  });

  test('absolute targets resolve from rootfs, through links too', () => {
    assert.equal(verdict([link('d1/d2', '/'), link('l', 'd1/d2/../..')]), 'accepted');
    assert.equal(verdict([link('d1/d2', '/a/b'), link('l', 'd1/d2/../../..')]), 'accepted');
  });

  test('a loop is judged at the end: an entry that replaces one of its links breaks it', () => {
    assert.equal(verdict([link('c/a/c', 'c')]), 'ARCHIVE_LINK_LOOP');
    // b/a/c lands on c/a/c through b, replacing the link that looped (found against GNU tar).
    assert.equal(verdict([link('b', 'c'), link('c/a/c', 'c'), file('b/a/c'), dir('a')]), 'accepted');
    // Nothing is placed through a loop meanwhile.
    assert.equal(verdict([link('x', 'x'), file('x/f')]), 'ARCHIVE_LINK_LOOP');
  });

  test('a hard link to a symlink is the same symlink somewhere else', () => {
    const entries = [link('a/b/up', '../..'), { name: 'rootfs/h', type: 'link' as const, linkname: 'rootfs/a/b/up' }];
    assert.equal(verdict(entries), 'ARCHIVE_LINK_ESCAPES');
    assert.equal(verdict([file('a/f'), { name: 'rootfs/h', type: 'link', linkname: 'rootfs/a/f' }]), 'accepted');
  });

  test('a file or directory landing on a link replaces it', () => {
    // Through b (-> .), b/a replaces the link a, so x no longer climbs out at the end.
    assert.equal(verdict([link('a', 'sub'), link('x', 'a/..'), link('b', '.'), dir('b/a')]), 'accepted');
    assert.equal(verdict([link('a', '.'), link('b', 'sub'), file('b/ignored')]), 'accepted');
  });

  test('loops and long chains are refused after 255 links, cheaply', () => {
    assert.equal(verdict([link('a', 'b'), link('b', 'a'), link('c', 'a/x')]), 'ARCHIVE_LINK_LOOP');
    const chain = Array.from({ length: 300 }, (_, i) => link(`l${i}`, `l${i + 1}`));
    assert.equal(verdict([...chain, link('l300', 'end')]), 'ARCHIVE_LINK_LOOP');
    const ok = Array.from({ length: 200 }, (_, i) => link(`l${i}`, `l${i + 1}`));
    assert.equal(verdict(ok), 'accepted');
    // Many links that each re-walk a long chain: the total work is bounded too.
    const started = Date.now();
    const fan = Array.from({ length: 5_000 }, (_, i) => link(`f${i}`, 'l0/' + 'x/'.repeat(1000)));
    assert.match(verdict([...ok, ...fan]), /^(accepted|ARCHIVE_LINK_LOOP)$/);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });
});

describe('links against GNU tar', () => {
  /** Depth under the temporary directory, deeper than any generated chain can climb. */
  const NEST = Array.from({ length: 64 }, () => 'n').join('/');

  /** How tar leaves things: 'accepted', 'escapes' or 'loop'; null when tar could not extract every entry. */
  async function extracted(entries: readonly AciEntry[]): Promise<string | null> {
    const top = await mkdtemp(join(tmpdir(), 'acihost-links-'));
    try {
      return await extractInto(top, entries);
    } finally {
      await rm(top, { recursive: true, force: true });
    }
  }

  async function extractInto(top: string, entries: readonly AciEntry[]): Promise<string | null> {
    const root = join(top, NEST);
    await mkdir(root, { recursive: true });
    const tar = await buildTar([{ name: 'rootfs', type: 'directory' }, ...entries]);
    const run = spawnSync('tar', ['-x', '-P', '--no-same-owner', '--no-same-permissions', '-C', root], { input: tar });
    if (run.status !== 0) return null;
    // Nothing was written beside rootfs, nor above it.
    const beside = await readdir(root);
    if (beside.length !== 1 || beside[0] !== 'rootfs') return 'escapes';
    for (let at = root; at !== top; at = join(at, '..')) if ((await readdir(join(at, '..'))).length !== 1) return 'escapes';

    const rootfs = join(root, 'rootfs');
    const isLink = async (rel: string[]) => (await lstat(join(rootfs, ...rel)).catch(() => null))?.isSymbolicLink() ?? false;
    /** Resolution through the files tar left: links substituted, missing parts taken as directories. */
    const resolve = async (start: string[], target: string): Promise<string> => {
      let stack = target.startsWith('/') ? [] : [...start];
      let stays = target.startsWith('/');
      const pending = target
        .split('/')
        .filter((s) => s && s !== '.')
        .reverse();
      for (let hops = 0; pending.length > 0;) {
        const c = pending.pop()!;
        if (c === '..') {
          if (stack.length > 0) stack.pop();
          else if (!stays) return 'escapes';
          continue;
        }
        stack.push(c);
        if (!(await isLink(stack))) continue;
        if (++hops > 255) return 'loop';
        const next = await readlink(join(rootfs, ...stack));
        stack.pop();
        if (next.startsWith('/')) [stack, stays] = [[], true];
        pending.push(
          ...next
            .split('/')
            .filter((s) => s && s !== '.')
            .reverse(),
        );
      }
      return 'accepted';
    };
    let worst = 'accepted';
    // Walks the tree without following links.
    const walk = async (rel: string[]): Promise<void> => {
      for (const e of await readdir(join(rootfs, ...rel), { withFileTypes: true })) {
        const at = [...rel, e.name];
        if (e.isDirectory()) await walk(at);
        if (!e.isSymbolicLink()) continue;
        const r = await resolve(rel, await readlink(join(rootfs, ...at)));
        if (r === 'escapes' || worst === 'accepted') worst = r;
      }
    };
    await walk([]);
    return worst;
  }

  test('an archive is accepted exactly when, extracted by tar, none of its links leads outside rootfs', async () => {
    const segment = fc.constantFrom('a', 'b', 'c');
    const name = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
    const target = fc.array(fc.constantFrom('a', 'b', 'c', '..', '.'), { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    const entry = fc.oneof(
      name.map(dir),
      name.map(file),
      fc.tuple(name, target).map(([n, t]) => link(n, t)),
    );
    const archive = fc.uniqueArray(entry, { minLength: 1, maxLength: 8, selector: (e) => e.name });
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(archive, async (entries) => {
        const oracle = await extracted(entries);
        fc.pre(oracle !== null);
        compared++;
        const ours = verdict(entries);
        const expected = { accepted: 'accepted', escapes: 'ARCHIVE_LINK_ESCAPES', loop: 'ARCHIVE_LINK_LOOP' }[oracle!];
        // A loop that also escapes on some other link may be reported either way.
        if (oracle === 'escapes' && ours === 'ARCHIVE_LINK_LOOP') return;
        // An entry whose path runs through an earlier link: tar removes that link and makes a
        // directory in its place, where acihost (as rkt, through the kernel) follows it. Where that
        // decides, acihost may refuse what tar leaves inside rootfs, or see an escape where tar
        // leaves a loop; it must still never accept what tar leaves escaping or looping.
        if (ours !== 'accepted' && pathThroughLink(entries)) return;
        assert.equal(ours, expected, JSON.stringify(entries));
      }),
      { numRuns: 150 },
    );
    assert.ok(compared > 60, `only ${compared} archives were extracted cleanly by tar`);
  });
});
