/**
 * One test per bad push: each asserts the status, the stable error code, and
 * that storage is unchanged (nothing stored, no scratch left behind).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci, type BuildAciOptions } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

describe('push refusals', () => {
  let server: TestServer;
  let gpg: Gpg;
  let trusted: GpgKey;
  let elsewhere: GpgKey;
  let stranger: GpgKey;
  const tokens: Record<string, string> = {};
  let n = 0;

  async function token(args: string[]): Promise<string> {
    const r = await server.cli(['token', 'create', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n')[0]!;
  }

  async function trust(key: GpgKey, prefix: string): Promise<void> {
    const file = join(server.dir, `${key.fingerprint}.asc`);
    await writeFile(file, await gpg.exportPublic(key.fingerprint));
    const r = await server.cli(['key', 'add', '--prefix', prefix, file]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** Writes an ACI (and its signature) to files; `sign: false` leaves the signature out. */
  async function files(aci: BuildAciOptions | Buffer, sign: { by?: GpgKey; armor?: boolean; asc?: string | Buffer } | false = {}) {
    const id = ++n;
    const aciPath = join(server.dir, `img-${id}.aci`);
    await writeFile(aciPath, Buffer.isBuffer(aci) ? aci : await buildAci({ name: 'localhost/team/app', ...aci }));
    if (sign === false) return { aciPath, ascPath: undefined };
    if (sign.asc !== undefined) {
      const ascPath = join(server.dir, `img-${id}.aci.asc`);
      await writeFile(ascPath, sign.asc);
      return { aciPath, ascPath };
    }
    const ascPath = await gpg.signFile(aciPath, (sign.by ?? trusted).fingerprint, { armor: sign.armor ?? true });
    return { aciPath, ascPath };
  }

  async function expectRefusal(
    push: { aciPath?: string; ascPath?: string; token?: string; ascFirst?: boolean; extraArgs?: string[]; omitParts?: boolean },
    status: number,
    code: string,
  ): Promise<any> {
    const before = await storageSnapshot(server.storageDir);
    const res = await curlPush({
      origin: server.origin,
      caFile: server.caFile,
      token: 'token' in push ? push.token : tokens.push,
      aci: push.omitParts ? undefined : push.aciPath,
      asc: push.omitParts ? undefined : push.ascPath,
      ascFirst: push.ascFirst,
      extraArgs: push.extraArgs,
    });
    assert.equal(res.status, status, res.raw);
    assert.equal(res.json?.error?.code, code, res.raw);
    assert.ok(res.json.error.message.length > 20, 'the message says what to do');
    assert.deepEqual(await storageSnapshot(server.storageDir), before, 'storage unchanged');
    assert.deepEqual(await scratchFiles(server.storageDir), [], 'no scratch left');
    return res;
  }

  before(async () => {
    [server, gpg] = await Promise.all([startTestServer({ env: {} }), createGpg()]);
    [trusted, elsewhere, stranger] = [
      await gpg.genKey({ algo: 'rsa2048', uid: 'trusted <t@localhost>' }),
      await gpg.genKey({ algo: 'rsa2048', uid: 'elsewhere <e@localhost>' }),
      await gpg.genKey({ algo: 'rsa2048', uid: 'stranger <s@localhost>' }),
    ];
    await trust(trusted, 'localhost/team');
    await trust(elsewhere, 'localhost/other');
    tokens.push = await token(['--prefix', 'localhost/team']);
    tokens.pull = await token(['--prefix', 'localhost/team', '--scope', 'pull']);
    tokens.revoked = await token(['--prefix', 'localhost/team']);
    const list = await server.cli(['token', 'list', '--json']);
    const revokedId = JSON.parse(list.stdout).find((t: { id: string }) => tokens.revoked!.includes(t.id)).id;
    assert.equal((await server.cli(['token', 'revoke', revokedId])).code, 0);
    tokens.expired = await token(['--prefix', 'localhost/team', '--expires', '1s']);
    await new Promise((r) => setTimeout(r, 1100));
  });

  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  describe('credentials', () => {
    it('401 with WWW-Authenticate without a token', async () => {
      const f = await files({});
      await expectRefusal({ ...f, token: undefined }, 401, 'TOKEN_MISSING');
      const res = await server.request('/-/push', { method: 'POST' });
      assert.equal(res.status, 401);
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="acihost"/);
    });
    it('401 for an unknown token', async () => {
      const f = await files({});
      await expectRefusal({ ...f, token: 'acih_00000000000000000000_' + 'A'.repeat(43) }, 401, 'TOKEN_INVALID');
      await expectRefusal({ ...f, token: 'nonsense' }, 401, 'TOKEN_INVALID');
    });
    // Closed with the body unread, the connection is reset, and a client still sending its small
    // body reports a broken pipe instead of the answer (curl waits for 100 Continue only past 1 MiB).
    it('takes in a small refused body whole, and closes on a large one once answered', async () => {
      const refused = (bytes: number) =>
        server.request('/-/push', {
          method: 'POST',
          headers: { authorization: 'Bearer nonsense', 'content-type': 'multipart/form-data; boundary=x', connection: 'keep-alive' },
          body: Buffer.alloc(bytes, 0x61),
        });
      for (const bytes of [10_000, 900_000]) {
        const res = await refused(bytes);
        assert.equal(res.status, 401);
        assert.notEqual(res.headers.connection, 'close', `${bytes} bytes: the connection was closed with the body unread`);
      }
      const large = await refused(8 * 1024 * 1024);
      assert.equal(large.status, 401);
      assert.equal(large.headers.connection, 'close');
    });
    it('401 for a revoked token', async () => {
      await expectRefusal({ ...(await files({})), token: tokens.revoked }, 401, 'TOKEN_INVALID');
    });
    it('401 for an expired token', async () => {
      await expectRefusal({ ...(await files({})), token: tokens.expired }, 401, 'TOKEN_EXPIRED');
    });
    it('403 for a token without the push scope', async () => {
      await expectRefusal({ ...(await files({})), token: tokens.pull }, 403, 'TOKEN_SCOPE_MISSING');
    });
    it('403 for a name outside the token prefixes, segment-aligned', async () => {
      await expectRefusal(await files({ name: 'localhost/teamx/app' }), 403, 'PREFIX_NOT_ALLOWED');
      await expectRefusal(await files({ name: 'localhost/other/app' }, { by: elsewhere }), 403, 'PREFIX_NOT_ALLOWED');
    });
  });

  describe('request shape', () => {
    it('400 for a body that is not multipart', async () => {
      await expectRefusal({ extraArgs: ['--data-binary', 'hello'], omitParts: true }, 400, 'PUSH_NOT_MULTIPART');
    });
    it('400 without the image part', async () => {
      const f = await files({});
      await expectRefusal({ ascPath: f.ascPath }, 400, 'PUSH_IMAGE_MISSING');
    });
    it('400 without the signature part', async () => {
      await expectRefusal(await files({}, false), 400, 'SIGNATURE_MISSING');
    });
    it('400 for an unknown part', async () => {
      const f = await files({});
      await expectRefusal({ ...f, extraArgs: ['-F', 'other=1'] }, 400, 'PUSH_UNEXPECTED_PART');
    });
  });

  describe('names and manifests', () => {
    it('422 for a name outside the image domain', async () => {
      await expectRefusal(await files({ name: 'example.com/app' }), 422, 'NAME_OUTSIDE_DOMAIN');
    });
    it('422 for a reserved last segment', async () => {
      await expectRefusal(await files({ name: 'localhost/team/pubkeys.gpg' }), 422, 'NAME_RESERVED');
    });
    it('422 without a version, os or arch label', async () => {
      for (const missing of ['version', 'os', 'arch'] as const) {
        await expectRefusal(await files({ [missing]: null }), 422, 'MANIFEST_LABEL_MISSING');
      }
    });
    it('422 for an os/arch pair rkt does not know', async () => {
      await expectRefusal(await files({ arch: 'x86_64' }), 422, 'MANIFEST_OS_ARCH_INVALID');
    });
    it('422 for the version latest, which the server resolves itself', async () => {
      await expectRefusal(await files({ version: 'latest' }), 422, 'VERSION_RESERVED');
    });
    it('422 for a manifest that is not JSON or not an image manifest', async () => {
      await expectRefusal(await files({ manifest: '{not json' }), 422, 'MANIFEST_INVALID');
      await expectRefusal(await files({ manifestPatch: { acKind: 'PodManifest' } }), 422, 'MANIFEST_INVALID');
      await expectRefusal(await files({ manifestPatch: { name: 'localhost/Team/App' } }), 422, 'MANIFEST_INVALID');
    });
  });

  describe('archives', () => {
    it('422 for bytes that are no archive', async () => {
      await expectRefusal(await files(Buffer.from('just some text, not an ACI at all'.repeat(20))), 422, 'ARCHIVE_FORMAT_UNKNOWN');
    });
    it('422 without a manifest or rootfs', async () => {
      await expectRefusal(await files({ omit: ['manifest'] }), 422, 'ARCHIVE_MANIFEST_MISSING');
      await expectRefusal(await files({ omit: ['rootfs'], sampleContent: false }), 422, 'ARCHIVE_ROOTFS_MISSING');
    });
    it('422 for absolute paths, .. segments and links out of rootfs', async () => {
      await expectRefusal(await files({ entries: [{ name: '/etc/passwd', body: 'x' }] }), 422, 'ARCHIVE_PATH_ABSOLUTE');
      await expectRefusal(await files({ entries: [{ name: 'rootfs/../../evil', body: 'x' }] }), 422, 'ARCHIVE_PATH_TRAVERSAL');
      await expectRefusal(
        await files({ entries: [{ name: 'rootfs/esc', type: 'symlink', linkname: '../../../etc' }] }),
        422,
        'ARCHIVE_LINK_ESCAPES',
      );
      await expectRefusal(
        await files({ entries: [{ name: 'rootfs/hard', type: 'link', linkname: 'manifest' }] }),
        422,
        'ARCHIVE_LINK_ESCAPES',
      );
    });
    it('422 for duplicate entries and stray top-level entries', async () => {
      await expectRefusal(await files({ entries: [{ name: 'rootfs/etc/hello', body: 'again' }] }), 422, 'ARCHIVE_DUPLICATE_ENTRY');
      await expectRefusal(await files({ entries: [{ name: 'extra', body: 'x' }] }), 422, 'ARCHIVE_UNEXPECTED_ENTRY');
    });
    it('422 for a truncated archive', async () => {
      const whole = await buildAci({ name: 'localhost/team/app' });
      await expectRefusal(await files(whole.subarray(0, whole.length - 40)), 422, 'ARCHIVE_TRUNCATED');
    });
  });

  describe('signatures', () => {
    it('422 for a signature file that is not a signature', async () => {
      await expectRefusal(await files({}, { asc: 'not a signature' }), 422, 'SIGNATURE_UNREADABLE');
    });
    it('422 for a signature by a key nobody trusts, in either part order', async () => {
      const f = await files({}, { by: stranger });
      await expectRefusal(f, 422, 'SIGNATURE_UNTRUSTED_KEY');
      await expectRefusal({ ...f, ascFirst: false }, 422, 'SIGNATURE_UNTRUSTED_KEY');
    });
    it('422 for a signature by a key trusted only for another prefix, in either part order', async () => {
      const f = await files({}, { by: elsewhere });
      await expectRefusal(f, 422, 'SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME');
      await expectRefusal({ ...f, ascFirst: false }, 422, 'SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME');
    });
    it('422 for a signature over other bytes, in either part order', async () => {
      const a = await files({ version: '3.0.0' });
      const b = await files({ version: '3.0.0', entries: [{ name: 'rootfs/x', body: 'y' }] });
      await expectRefusal({ aciPath: b.aciPath, ascPath: a.ascPath }, 422, 'SIGNATURE_MISMATCH');
      await expectRefusal({ aciPath: b.aciPath, ascPath: a.ascPath, ascFirst: false }, 422, 'SIGNATURE_MISMATCH');
    });
    it('422 for two signatures in one file (rkt reads only the first)', async () => {
      const a = await files({});
      const second = await gpg.signFile(a.aciPath, trusted.fingerprint, { armor: false, out: a.aciPath + '.2.sig' });
      const first = await gpg.signFile(a.aciPath, trusted.fingerprint, { armor: false, out: a.aciPath + '.1.sig' });
      const both = Buffer.concat([await readFile(first), await readFile(second)]);
      await expectRefusal(await files(await readFile(a.aciPath), { asc: both }), 422, 'SIGNATURE_MULTIPLE');
    });
  });

  describe('a re-push of published bytes', () => {
    // Checked as a new push is: a CI whose signing step broke must not get 200 on its next run.
    let published: Buffer;
    before(async () => {
      const f = await files({ version: '4.0.0' });
      const res = await curlPush({ origin: server.origin, caFile: server.caFile, token: tokens.push, aci: f.aciPath, asc: f.ascPath });
      assert.equal(res.status, 201, res.raw);
      published = await readFile(f.aciPath);
    });
    it('400 without a signature part', async () => {
      await expectRefusal(await files(published, false), 400, 'SIGNATURE_MISSING');
    });
    it('422 for a signature by a key nobody trusts', async () => {
      await expectRefusal(await files(published, { by: stranger }), 422, 'SIGNATURE_UNTRUSTED_KEY');
    });
    it('422 for a signature by a key trusted only for another prefix', async () => {
      await expectRefusal(await files(published, { by: elsewhere }), 422, 'SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME');
    });
    it('200 unchanged with a trusted signature, storage untouched', async () => {
      const f = await files(published);
      const before = await storageSnapshot(server.storageDir);
      const res = await curlPush({ origin: server.origin, caFile: server.caFile, token: tokens.push, aci: f.aciPath, asc: f.ascPath });
      assert.equal(res.status, 200, res.raw);
      assert.equal(res.json.version, '4.0.0', res.raw);
      assert.deepEqual(await storageSnapshot(server.storageDir), before);
      assert.deepEqual(await scratchFiles(server.storageDir), []);
    });
  });

  describe('size caps', () => {
    it('413 for a signature part over 64 KiB', async () => {
      await expectRefusal(await files({}, { asc: Buffer.alloc(70 * 1024, 0x41) }), 413, 'PART_TOO_LARGE');
    });
  });
});

describe('push size caps', () => {
  let server: TestServer;
  let gpg: Gpg;
  let key: GpgKey;
  let token: string;

  before(async () => {
    [server, gpg] = await Promise.all([
      startTestServer({ config: { limits: { maxCompressedBytes: 64 * 1024, maxUncompressedBytes: 1024 * 1024 } } }),
      createGpg(),
    ]);
    key = await gpg.genKey({ algo: 'rsa2048' });
    const keyFile = join(server.dir, 'k.asc');
    await writeFile(keyFile, await gpg.exportPublic(key.fingerprint));
    assert.equal((await server.cli(['key', 'add', '--prefix', 'localhost', keyFile])).code, 0);
    token = (await server.cli(['token', 'create', '--prefix', 'localhost'])).stdout.split('\n')[0]!;
  });
  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  async function push(name: string, aci: Buffer): Promise<{ status: number; code: string }> {
    const aciPath = join(server.dir, `${name}.aci`);
    await writeFile(aciPath, aci);
    const ascPath = await gpg.signFile(aciPath, key.fingerprint);
    const before = await storageSnapshot(server.storageDir);
    const res = await curlPush({ origin: server.origin, caFile: server.caFile, token, aci: aciPath, asc: ascPath });
    assert.deepEqual(await storageSnapshot(server.storageDir), before);
    assert.deepEqual(await scratchFiles(server.storageDir), []);
    return { status: res.status, code: res.json?.error?.code };
  }

  it('413 for an .aci over the compressed cap', async () => {
    const aci = await buildAci({ name: 'localhost/big', entries: [{ name: 'rootfs/noise', body: randomBytes(200 * 1024) }] });
    assert.deepEqual(await push('big', aci), { status: 413, code: 'ACI_TOO_LARGE' });
  });

  it('413 for an archive that inflates past the uncompressed cap', async () => {
    const aci = await buildAci({ name: 'localhost/bomb', entries: [{ name: 'rootfs/zeros', body: Buffer.alloc(4 * 1024 * 1024) }] });
    assert.ok(aci.length < 64 * 1024);
    assert.deepEqual(await push('bomb', aci), { status: 413, code: 'UNCOMPRESSED_TOO_LARGE' });
  });

  it('still publishes an image within both caps', async () => {
    const aci = await buildAci({ name: 'localhost/small' });
    const aciPath = join(server.dir, 'small.aci');
    await writeFile(aciPath, aci);
    const res = await curlPush({
      origin: server.origin,
      caFile: server.caFile,
      token,
      aci: aciPath,
      asc: await gpg.signFile(aciPath, key.fingerprint),
    });
    assert.equal(res.status, 201, res.raw);
  });
});
