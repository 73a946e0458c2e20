/**
 * Every way an acpush upload can be refused: what the real client would print
 * (only the completion's server_reason, or a bare status code), that no answer in
 * the flow is ever 400 (acpush reads 400 as success), and that storage is left
 * unchanged: nothing published, no session, no scratch.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { wireRequest, reserializeManifest, manifestOf, type AcpushAuth, type AcpushResult } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import type { GpgKey } from '../helpers/gpg.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';
import { readAudit } from '../helpers/audit.ts';

const NAME = 'localhost/team/app';

describe('acpush refusals', () => {
  let fx: AcpushFixture;
  let stranger: GpgKey;
  let otherPrefixToken: string;
  let sameprefixToken: string;
  let version = 0;
  const nextVersion = () => `1.0.${++version}`;

  before(async () => {
    fx = await createAcpushFixture({ prefix: 'localhost/team' });
    stranger = await fx.gpg.genKey({ algo: 'rsa2048' });
    otherPrefixToken = await fx.createToken(['--prefix', 'localhost/other']);
    sameprefixToken = await fx.createToken(['--prefix', 'localhost/team']);
    await fx.keysVisible('/team');
  });
  after(() => fx?.close());

  const basic = (token: string): AcpushAuth => ({ basic: { user: 'ci', password: token } });

  /** Runs `attempt`, then checks that storage is exactly as before and no 400 was answered. */
  async function unchanged<T extends AcpushResult | void>(attempt: () => Promise<T>): Promise<T> {
    const before = await storageSnapshot(fx.server.storageDir);
    const result = await attempt();
    if (result) {
      const statuses = [result.start?.status, ...result.parts.map((p) => p.status), result.completion?.status];
      assert.ok(!statuses.includes(400), `no 400 in the acpush flow: ${statuses.join(',')}`);
    }
    assert.deepEqual(await storageSnapshot(fx.server.storageDir), before, 'storage unchanged');
    assert.deepEqual(await scratchFiles(fx.server.storageDir), [], 'no scratch left');
    return result;
  }

  function assertRefusedAtCompletion(r: AcpushResult, code: string): void {
    assert.equal(r.exitCode, 1);
    assert.deepEqual(
      r.parts.map((p) => p.status),
      r.parts.map(() => 200),
    );
    assert.equal(r.completion!.status, 200);
    assert.equal(r.completion!.json.success, false);
    assert.equal(r.completion!.json.reason, code);
    assert.ok(r.stderr.startsWith(`err: ${code}: `), r.stderr);
  }

  it('refuses an upload without a signature at completion, saying how to sign', async () => {
    const { aci } = await fx.signed({ version: nextVersion() });
    const r = await unchanged(() => fx.acpush({ aci, name: NAME }));
    assertRefusedAtCompletion(r, 'SIGNATURE_MISSING');
    assert.match(r.stderr, /gpg --armor --detach-sign/);
    assert.deepEqual(
      r.parts.map((p) => p.part),
      ['manifest', 'aci'],
    );
  });

  it('refuses a signature over other bytes, whether it came before or after the image', async () => {
    const v = nextVersion();
    const { aci } = await fx.signed({ version: v });
    const { asc: otherAsc } = await fx.signed({ version: v, labels: [{ name: 'x', value: 'y' }] });
    for (const order of [
      ['manifest', 'signature', 'aci'],
      ['aci', 'manifest', 'signature'],
    ] as const) {
      const r = await unchanged(() => fx.acpush({ aci, asc: otherAsc, name: NAME, order }));
      assertRefusedAtCompletion(r, 'SIGNATURE_MISMATCH');
    }
  });

  it('refuses a signature by a key not trusted here', async () => {
    const { aci, asc } = await fx.signed({ version: nextVersion() }, stranger);
    const r = await unchanged(() => fx.acpush({ aci, asc, name: NAME }));
    assertRefusedAtCompletion(r, 'SIGNATURE_UNTRUSTED_KEY');
  });

  it('checks the signature of a re-push of published bytes as it would a new push', async () => {
    const { aci, asc } = await fx.signed({ version: nextVersion() });
    const first = await fx.acpush({ aci, asc, name: NAME });
    assert.equal(first.exitCode, 0, first.stderr);
    assertRefusedAtCompletion(await unchanged(() => fx.acpush({ aci, name: NAME })), 'SIGNATURE_MISSING');
    const path = join(fx.server.dir, 'republished.aci');
    await writeFile(path, aci);
    const strangers = await readFile(await fx.gpg.signFile(path, stranger.fingerprint));
    assertRefusedAtCompletion(await unchanged(() => fx.acpush({ aci, asc: strangers, name: NAME })), 'SIGNATURE_UNTRUSTED_KEY');
    const again = await unchanged(() => fx.acpush({ aci, asc, name: NAME }));
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(again.completion!.json.success, true);
  });

  it('reports an unreadable signature part at completion, where acpush shows the text', async () => {
    const { aci } = await fx.signed({ version: nextVersion() });
    const r = await unchanged(() => fx.acpush({ aci, asc: Buffer.from('not a signature\n'), name: NAME }));
    assertRefusedAtCompletion(r, 'SIGNATURE_UNREADABLE');
    assert.match(r.stderr, /the signature part was refused/);
  });

  it('reports a broken archive at completion', async () => {
    const aci = await buildAci({ name: NAME, version: nextVersion(), omit: ['rootfs'], sampleContent: false });
    const r = await unchanged(() => fx.acpush({ aci, asc: Buffer.from('x'), name: NAME, order: ['manifest', 'aci', 'signature'] }));
    assertRefusedAtCompletion(r, 'ARCHIVE_ROOTFS_MISSING');
  });

  it('refuses a manifest part that disagrees with the manifest inside the ACI', async () => {
    const v = nextVersion();
    const { aci, asc } = await fx.signed({ version: v });
    const m = JSON.parse((await manifestOf(aci)).toString());
    const relabelled = { ...m, labels: m.labels.map((l: any) => (l.name === 'version' ? { ...l, value: '9.9.9' } : l)) };
    const renamed = { ...m, name: 'localhost/team/other' };
    for (const manifest of [relabelled, renamed]) {
      const part = reserializeManifest(Buffer.from(JSON.stringify(manifest)));
      const r = await unchanged(() => fx.acpush({ aci, asc, name: NAME, manifest: part }));
      assertRefusedAtCompletion(r, 'ACPUSH_MANIFEST_MISMATCH');
    }
  });

  it('refuses a push URL whose name, version or platform differs from the manifest', async () => {
    const v = nextVersion();
    const { aci, asc } = await fx.signed({ version: v });
    const cases = [
      {
        o: { name: 'localhost/team/other', version: v },
        code: 'ACPUSH_NAME_MISMATCH',
        hint: `acpush IMAGE.aci IMAGE.aci.asc ${NAME}:${v}`,
      },
      { o: { name: NAME, version: '9.9.9' }, code: 'ACPUSH_VERSION_MISMATCH', hint: 'leave the version out' },
      { o: { name: NAME, version: v, os: 'freebsd', arch: 'amd64' }, code: 'ACPUSH_PLATFORM_MISMATCH', hint: 'leave os= and arch= out' },
    ];
    for (const c of cases) {
      const r = await unchanged(() => fx.acpush({ aci, asc, ...c.o }));
      assertRefusedAtCompletion(r, c.code);
      assert.ok(r.stderr.includes(c.hint), r.stderr);
    }
  });

  it('refuses the start with 403 for a token of another prefix, and 401 without a token', async () => {
    const { aci, asc } = await fx.signed({ version: nextVersion() });
    const denied = await unchanged(() => fx.acpush({ aci, asc, name: NAME, auth: basic(otherPrefixToken) }));
    assert.equal(denied.start!.status, 403);
    assert.equal(denied.start!.json.error.code, 'PREFIX_NOT_ALLOWED');
    assert.equal(denied.stderr, 'err: bad HTTP status code: 403');
    assert.equal(denied.completion, undefined, 'acpush stops after a refused start');
    const anonymous = await unchanged(() => fx.acpush({ aci, asc, name: NAME, auth: undefined }));
    assert.equal(anonymous.start!.status, 401);
    assert.equal(anonymous.stderr, 'err: bad HTTP status code: 401');
  });

  describe('an upload driven request by request', () => {
    const ca = () => fx.server.caPem;
    async function start(auth: AcpushAuth, name = NAME, v = '1.9.0'): Promise<Record<string, string>> {
      const res = await wireRequest(`${fx.server.origin}/-/acpush/start/${name}/${v}/linux/amd64.aci`, {
        method: 'POST',
        ca: ca(),
        auth,
        body: Buffer.alloc(0),
      });
      assert.equal(res.status, 200, res.body.toString());
      return res.json;
    }
    const put = (url: string, body: Buffer, auth: AcpushAuth) => wireRequest(url, { method: 'PUT', ca: ca(), auth, body, chunked: true });
    const complete = (url: string, body: string, auth: AcpushAuth) =>
      wireRequest(url, { method: 'POST', ca: ca(), auth, body: Buffer.from(body) });

    it('belongs to the token that started it: another token is refused and cannot end it', async () => {
      const { aci, asc } = await fx.signed({ version: '1.9.0' });
      const owner = basic(fx.token);
      const other = basic(sameprefixToken);
      const before = await storageSnapshot(fx.server.storageDir);
      const urls = await start(owner);
      const foreign = await put(urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci)), other);
      assert.equal(foreign.status, 403);
      assert.equal(foreign.json.error.code, 'ACPUSH_UPLOAD_NOT_YOURS');
      const hijack = await complete(urls.completed_url!, '{"success":false,"reason":"x"}', other);
      assert.deepEqual([hijack.status, hijack.json.success, hijack.json.reason], [200, false, 'ACPUSH_UPLOAD_NOT_YOURS']);
      const anonymous = await complete(urls.completed_url!, '{"success":false}', undefined);
      assert.deepEqual([anonymous.status, anonymous.json.success, anonymous.json.reason], [200, false, 'TOKEN_MISSING']);
      for (const [url, body] of [
        [urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci))],
        [urls.upload_signature_url!, asc],
        [urls.upload_aci_url!, aci],
      ] as const) {
        assert.equal((await put(url, body, owner)).status, 200);
      }
      const done = await complete(urls.completed_url!, '{"success":true}', owner);
      assert.deepEqual(done.json, { success: true });
      assert.notDeepEqual(await storageSnapshot(fx.server.storageDir), before, 'published');
    });

    it('discards the upload on the client failure report', async () => {
      const { aci } = await fx.signed({ version: '1.9.1' });
      await unchanged(async () => {
        const urls = await start(basic(fx.token), NAME, '1.9.1');
        assert.equal((await put(urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci)), basic(fx.token))).status, 200);
        const report = '{"success":false,"reason":"error uploading ACI: bad HTTP status code: 413"}';
        const answer = await complete(urls.completed_url!, report, basic(fx.token));
        assert.deepEqual([answer.status, answer.json.success, answer.json.reason], [200, false, 'ACPUSH_CLIENT_FAILED']);
        const late = await put(urls.upload_aci_url!, aci, basic(fx.token));
        assert.deepEqual([late.status, late.json.error.code], [404, 'ACPUSH_UPLOAD_NOT_FOUND']);
      });
    });

    it('audits each refusal, those found before the publish too, under the name the upload claimed', async () => {
      const claimed = async (version: string) =>
        (await readAudit(fx.server.storageDir))
          .filter((e) => e.action === 'push' && e.version === version)
          .map((e) => [e.name, e.os, e.arch, e.result, e.code, typeof e.actor]);
      const broken = await buildAci({ name: NAME, version: '1.9.2', omit: ['rootfs'], sampleContent: false });
      assertRefusedAtCompletion(
        await fx.acpush({ aci: broken, asc: Buffer.from('x'), name: NAME, version: '1.9.2', order: ['manifest', 'aci', 'signature'] }),
        'ARCHIVE_ROOTFS_MISSING',
      );
      assert.deepEqual(await claimed('1.9.2'), [[NAME, 'linux', 'amd64', 'refused', 'ARCHIVE_ROOTFS_MISSING', 'string']]);
      const urls = await start(basic(fx.token), NAME, '1.9.3');
      await complete(urls.completed_url!, '{"success":false,"reason":"gave up"}', basic(fx.token));
      assert.deepEqual(await claimed('1.9.3'), [[NAME, 'linux', 'amd64', 'refused', 'ACPUSH_CLIENT_FAILED', 'string']]);
    });

    it('refuses a second copy of a part with 409, unknown parts and sessions with 404, a bad completion body in JSON', async () => {
      const { aci } = await fx.signed({ version: '1.9.2' });
      const auth = basic(fx.token);
      await unchanged(async () => {
        const urls = await start(auth, NAME, '1.9.2');
        const manifest = reserializeManifest(await manifestOf(aci));
        assert.equal((await put(urls.upload_manifest_url!, manifest, auth)).status, 200);
        const again = await put(urls.upload_manifest_url!, manifest, auth);
        assert.deepEqual([again.status, again.json.error.code], [409, 'ACPUSH_PART_EXISTS']);
        const unknownPart = await put(urls.upload_manifest_url!.replace(/manifest$/, 'readme'), manifest, auth);
        assert.equal(unknownPart.status, 404);
        const unknownSession = await put(`${fx.server.origin}/-/acpush/uploads/${'A'.repeat(43)}/aci`, aci, auth);
        assert.deepEqual([unknownSession.status, unknownSession.json.error.code], [404, 'ACPUSH_UPLOAD_NOT_FOUND']);
        const garbled = await complete(urls.completed_url!, 'success', auth);
        assert.deepEqual([garbled.status, garbled.json.success, garbled.json.reason], [200, false, 'ACPUSH_REPORT_INVALID']);
        const dropped = await complete(urls.completed_url!, '{"success":false}', auth);
        assert.equal(dropped.json.reason, 'ACPUSH_CLIENT_FAILED');
      });
    });

    it('reads a refused 8 MiB body to its end, so the client sees the status and not a broken pipe', async () => {
      const big = Buffer.alloc(8 * 1024 * 1024 + 1761, 7);
      const urls = await start(basic(fx.token), NAME, '1.9.3');
      await unchanged(async () => {
        const wrongToken = await put(urls.upload_aci_url!, big, basic('acih_wrong'));
        assert.equal(wrongToken.status, 401);
        assert.match(String(wrongToken.json?.error?.code), /^TOKEN_/);
        const unknown = await put(`${fx.server.origin}/-/acpush/uploads/${'B'.repeat(43)}/aci`, big, basic(fx.token));
        assert.equal(unknown.status, 404);
      });
      const dropped = await complete(urls.completed_url!, '{"success":false}', basic(fx.token));
      assert.equal(dropped.json.reason, 'ACPUSH_CLIENT_FAILED');
    });
  });
});
