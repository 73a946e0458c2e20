/**
 * Quotas set with the CLI against a running server, and every front door refusing what
 * does not fit before it is stored: curl's /-/push, acpush (at its start, or when its
 * image passes what is left, reported at completion), and `acihost import`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AcpushResult } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { readAudit } from '../helpers/audit.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

const PREFIX = 'localhost/team';

describe('quotas: the command line and every front door', () => {
  let fx: AcpushFixture;
  let n = 0;
  const nextVersion = () => `2.0.${++n}`;

  before(async () => {
    fx = await createAcpushFixture({ prefix: PREFIX });
    await fx.keysVisible('/team');
  });
  after(() => fx?.close());

  async function cli(...args: string[]) {
    return fx.server.cli(['quota', ...args]);
  }

  async function quota(prefix = PREFIX): Promise<Record<string, unknown> | undefined> {
    const r = await cli('list', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).find((q: { prefix: string }) => q.prefix === prefix);
  }

  /** What the versions under PREFIX take now, as `quota list` says (under a quota that holds them all). */
  async function used(): Promise<{ bytes: number; versions: number }> {
    await cli('set', '--prefix', PREFIX, '--max-versions', '1000000');
    const q = (await quota())!;
    return { bytes: q.usedBytes as number, versions: q.usedVersions as number };
  }

  /** Runs `attempt` and checks that nothing was stored and no scratch is left. */
  async function unchanged<T>(attempt: () => Promise<T>): Promise<T> {
    const before = await storageSnapshot(fx.server.storageDir);
    const result = await attempt();
    assert.deepEqual(await storageSnapshot(fx.server.storageDir), before, 'storage unchanged');
    assert.deepEqual(await scratchFiles(fx.server.storageDir), [], 'no scratch left');
    return result;
  }

  describe('acihost quota', () => {
    it('sets, lists with what is used, and removes a quota, auditing each change', async () => {
      const set = await cli('set', '--prefix', 'localhost/cli', '--max-bytes', '1.5KiB', '--max-versions', '7');
      assert.equal(set.code, 0, set.stderr);
      assert.equal(set.stdout, 'localhost/cli  0 of 1536 bytes (0%)  0 of 7 versions (0%)\n');
      const listed = await quota('localhost/cli');
      assert.deepEqual(
        { ...listed, setAt: undefined },
        {
          prefix: 'localhost/cli',
          maxBytes: 1536,
          maxVersions: 7,
          usedBytes: 0,
          usedVersions: 0,
          setAt: undefined,
        },
      );
      assert.match(String(listed!.setAt), /^\d{4}-\d\d-\d\dT/);

      const replaced = await cli('set', '--prefix', 'localhost/cli', '--max-versions', '3');
      assert.equal(replaced.stdout, 'localhost/cli  0 bytes (no limit)  0 of 3 versions (0%)\n', 'a limit left out is no limit');
      assert.match((await cli('list')).stdout, /^localhost\/cli {2}0 bytes \(no limit\) {2}0 of 3 versions/m);

      const removed = await cli('remove', '--prefix', 'localhost/cli');
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(await quota('localhost/cli'), undefined);
      const missing = await cli('remove', '--prefix', 'localhost/cli');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /QUOTA_NOT_FOUND/);

      const events = (await readAudit(fx.server.storageDir)).filter((e) => e.action.startsWith('quota.'));
      assert.deepEqual(
        events.map((e) => `${e.action} ${e.result} ${JSON.stringify(e.detail)}`),
        [
          'quota.set set {"prefix":"localhost/cli","maxBytes":1536,"maxVersions":7}',
          'quota.set set {"prefix":"localhost/cli","maxBytes":null,"maxVersions":3}',
          'quota.remove removed {"prefix":"localhost/cli"}',
        ],
      );
    });

    it('refuses a quota without limits, with an unreadable limit, or outside the image domain', async () => {
      for (const [args, says] of [
        [['--prefix', 'localhost/x'], /needs --max-bytes BYTES, --max-versions N or both/],
        [['--prefix', 'localhost/x', '--max-bytes', '5 lots'], /--max-bytes "5 lots" is not a size/],
        [['--prefix', 'localhost/x', '--max-versions', '-1'], /--max-versions needs a value/],
        [['--prefix', 'localhost/x', '--max-versions', '1.5'], /--max-versions "1.5" is not a whole number/],
        [['--max-versions', '1'], /quota set needs one --prefix PREFIX/],
      ] as const) {
        const r = await cli('set', ...args);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, says);
      }
      for (const [prefix, code] of [
        ['example.com/team', 'QUOTA_PREFIX_OUTSIDE_DOMAIN'],
        ['localhost/Team', 'QUOTA_PREFIX_INVALID'],
      ]) {
        const r = await cli('set', '--prefix', prefix!, '--max-versions', '1');
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, new RegExp(code!));
      }
      assert.deepEqual(JSON.parse((await cli('list', '--json')).stdout), [], 'nothing was set');
    });
  });

  describe('curl push', () => {
    it('holds from the next push on the running server, and says what to do', async () => {
      const { versions } = await used();
      assert.equal((await cli('set', '--prefix', PREFIX, '--max-versions', String(versions))).code, 0);
      const res = await unchanged(() => fx.push({ name: `${PREFIX}/app`, version: nextVersion() }));
      assert.equal(res.status, 403, res.raw);
      assert.equal(res.json.error.code, 'QUOTA_EXCEEDED');
      assert.match(res.json.error.message, /the quota of localhost\/team allows \d+ versions? at or below it/);

      await cli('set', '--prefix', PREFIX, '--max-versions', String(versions + 1));
      assert.equal((await fx.push({ name: `${PREFIX}/app`, version: nextVersion() })).status, 201);
      const below = await cli('set', '--prefix', PREFIX, '--max-versions', String(versions));
      assert.equal(below.code, 0);
      assert.match(below.stderr, /holds more than the quota allows already; pushes under it are refused until versions are deleted/);
    });

    it('stops an image as it grows past what is left, and curl still reads the answer', async () => {
      const { bytes } = await used();
      // Declared 2 MiB: past what is left only once more than 104 KiB of it has arrived.
      await cli('set', '--prefix', PREFIX, '--max-bytes', String(bytes + 2 * 1024 * 1024 - 64 * 1024));
      const res = await unchanged(() =>
        fx.push({ name: `${PREFIX}/app`, version: nextVersion(), entries: [{ name: 'rootfs/blob', body: randomBytes(2 * 1024 * 1024) }] }),
      );
      assert.equal(res.status, 403, res.raw);
      assert.match(res.json.error.message, /^the image is larger than the \d+ bytes left to it: the quota of localhost\/team allows/);
    });
  });

  describe('acpush', () => {
    const NAME = `${PREFIX}/pushed`;

    function refusedAtCompletion(r: AcpushResult): void {
      assert.equal(r.exitCode, 1);
      assert.equal(r.completion!.json.success, false);
      assert.equal(r.completion!.json.reason, 'QUOTA_EXCEEDED');
      assert.match(
        r.stderr,
        /^err: QUOTA_EXCEEDED: the aci part was refused: the image is larger than the \d+ bytes left to it: the quota of localhost\/team/,
      );
    }

    it('is refused at its start when the versions are used up, and nothing is kept', async () => {
      const { versions } = await used();
      await cli('set', '--prefix', PREFIX, '--max-versions', String(versions));
      const { aci, asc } = await fx.signed({ name: NAME, version: nextVersion() });
      const r = await unchanged(() => fx.acpush({ aci, asc, name: NAME }));
      assert.equal(r.start!.status, 403);
      assert.equal(r.start!.json.error.code, 'QUOTA_EXCEEDED');
      assert.equal(r.stderr, 'err: bad HTTP status code: 403');
      assert.equal(r.completion, undefined);
    });

    it('reports an image past what is left at completion, with the quota named; one that fits exactly is published', async () => {
      const version = nextVersion();
      const { aci, asc } = await fx.signed({ name: NAME, version });
      const { bytes } = await used();
      await cli('set', '--prefix', PREFIX, '--max-bytes', String(bytes + aci.length - 1));
      refusedAtCompletion(await unchanged(() => fx.acpush({ aci, asc, name: NAME, version })));

      await cli('set', '--prefix', PREFIX, '--max-bytes', String(bytes + aci.length));
      const ok = await fx.acpush({ aci, asc, name: NAME, version });
      assert.equal(ok.exitCode, 0, ok.stderr);
      assert.equal((await quota())!.usedBytes, bytes + aci.length);
    });

    it('takes a version published already again when the quota is full: it adds nothing', async () => {
      const version = nextVersion();
      const { aci, asc } = await fx.signed({ name: NAME, version });
      const { versions } = await used();
      await cli('set', '--prefix', PREFIX, '--max-versions', String(versions + 1));
      assert.equal((await fx.acpush({ aci, asc, name: NAME, version })).exitCode, 0);
      const again = await fx.acpush({ aci, asc, name: NAME, version });
      assert.equal(again.exitCode, 0, again.stderr);
    });
  });

  describe('acihost import', () => {
    it('refuses the files that do not fit, and publishes the rest', async () => {
      const dir = join(fx.server.dir, 'import');
      await mkdir(dir, { recursive: true });
      const files: string[] = [];
      for (const name of ['a', 'b']) {
        const file = join(dir, `${name}.aci`);
        await writeFile(file, await buildAci({ name: `${PREFIX}/imported/${name}`, version: '1.0.0' }));
        await fx.gpg.signFile(file, fx.key.fingerprint);
        files.push(file);
      }
      const { versions } = await used();
      await cli('set', '--prefix', `${PREFIX}/imported`, '--max-versions', '1');
      const before = await storageSnapshot(fx.server.storageDir);
      const r = await fx.server.cli(['import', dir, '--json']);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.deepEqual(
        report.images.map((i: { file: string; status: string; code?: string }) => `${i.file} ${i.status} ${i.code ?? ''}`),
        ['a.aci published ', 'b.aci refused QUOTA_EXCEEDED'],
      );
      assert.match(report.images[1].message, /this push would add a version: the quota of localhost\/team\/imported allows 1 version/);
      const after = await storageSnapshot(fx.server.storageDir);
      assert.deepEqual(
        after.filter((l) => !before.includes(l) && l.startsWith('images/')).map((l) => l.split(' ')[0]),
        [`images/${PREFIX}/imported/a/_v/linux-amd64/1.0.0.json`],
        'only the image that fits is stored',
      );
      assert.deepEqual(await scratchFiles(fx.server.storageDir), []);
      assert.equal((await used()).versions, versions + 1);
    });

    it('is refused before staging when a quota covering the whole domain is full', async () => {
      const dir = join(fx.server.dir, 'import-full');
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'c.aci');
      await writeFile(file, await buildAci({ name: `${PREFIX}/imported/c`, version: '1.0.0' }));
      await fx.gpg.signFile(file, fx.key.fingerprint);
      await cli('set', '--prefix', 'localhost', '--max-bytes', '0');
      try {
        const r = await unchanged(() => fx.server.cli(['import', dir, '--json']));
        assert.equal(r.code, 1, r.stderr);
        const [image] = JSON.parse(r.stdout).images;
        assert.equal(image.code, 'QUOTA_EXCEEDED');
        assert.match(image.message, /this push of at least \d+ bytes does not fit: the quota of localhost allows 0 bytes/);
      } finally {
        await cli('remove', '--prefix', 'localhost');
      }
    });
  });
});
