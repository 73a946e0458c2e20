/** The key and token commands, against the same storage as a running server. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { TokenStore } from '../../src/registry/access/tokens.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > withinMs) assert.fail(`not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

describe('acihost key and token commands', () => {
  let server: TestServer;
  let gpg: Gpg;

  before(async () => {
    [server, gpg] = await Promise.all([startTestServer(), createGpg()]);
  });
  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  async function keyFile(name: string, content: string | Uint8Array): Promise<string> {
    const file = join(server.dir, name);
    await writeFile(file, content);
    return file;
  }

  describe('key add', () => {
    it('trusts an RSA key, and a running server publishes it within 2 s', async () => {
      const key = await gpg.genKey({ algo: 'rsa3072' });
      const r = await server.cli([
        'key',
        'add',
        '--prefix',
        'localhost/apps',
        await keyFile('k.asc', await gpg.exportPublic(key.fingerprint)),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${key.fingerprint} rsa3072`));
      await eventually(async () => (await server.request('/apps/x?ac-discovery=1')).body.toString().includes(key.fingerprint), 2000);
      const list = JSON.parse((await server.cli(['key', 'list', '--json'])).stdout);
      const listed = list.find((k: { fingerprint: string }) => k.fingerprint === key.fingerprint);
      assert.deepEqual(listed.prefixes, ['localhost/apps']);
      assert.equal(listed.armored, undefined);
    });

    it('accepts RSA 2048 with a warning that suggests 3072 or more', async () => {
      const key = await gpg.genKey({ algo: 'rsa2048' });
      const r = await server.cli([
        'key',
        'add',
        '--prefix',
        'localhost/old',
        await keyFile('k2048.asc', await gpg.exportPublic(key.fingerprint)),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*3072/);
    });

    it('adds each key of a file with several, printing each fingerprint', async () => {
      const a = await gpg.genKey({ algo: 'rsa2048' });
      const b = await gpg.genKey({ algo: 'nistp256' });
      const both = (await gpg.exportPublic(a.fingerprint)) + (await gpg.exportPublic(b.fingerprint));
      const r = await server.cli(['key', 'add', '--prefix', 'localhost/multi', await keyFile('two.asc', both)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(a.fingerprint));
      assert.match(r.stdout, new RegExp(b.fingerprint));
    });

    it('refuses, saying why and what to do: private, unreadable, ed25519, expired, revoked keys', async () => {
      // One gpg at a time: an export running beside a key generation on the same keyring can fail.
      const cases: [string, string, RegExp][] = [];
      const rsa = await gpg.genKey({ algo: 'rsa2048' });
      cases.push(['secret.asc', await gpg.exportSecret(rsa.fingerprint), /private key.*gpg --armor --export/s]);
      cases.push(['junk.asc', 'hello, not a key', /KEY_UNREADABLE/]);
      const ed = await gpg.genKey({ algo: 'ed25519' });
      cases.push(['ed.asc', await gpg.exportPublic(ed.fingerprint), /rkt cannot.*rsa3072/s]);
      const old = await gpg.genKey({ algo: 'rsa2048', expire: '1d', fakedTime: '20200101T000000' });
      cases.push(['expired.asc', await gpg.exportPublic(old.fingerprint), /KEY_EXPIRED/]);
      const revoked = await gpg.genKey({ algo: 'rsa2048' });
      await gpg.revoke(revoked.fingerprint);
      cases.push(['revoked.asc', await gpg.exportPublic(revoked.fingerprint), /KEY_REVOKED/]);
      for (const [name, content, message] of cases) {
        const r = await server.cli(['key', 'add', '--prefix', 'localhost/x', await keyFile(name, content)]);
        assert.equal(r.code, 1, name);
        assert.match(r.stderr, message, name);
      }
      const list = JSON.parse((await server.cli(['key', 'list', '--json'])).stdout);
      assert.ok(!list.some((k: { prefixes: string[] }) => k.prefixes.includes('localhost/x')), 'nothing was trusted');
    });

    it('refuses prefixes outside the image domain or not AC identifiers', async () => {
      const key = await gpg.genKey({ algo: 'rsa2048' });
      const file = await keyFile('p.asc', await gpg.exportPublic(key.fingerprint));
      for (const prefix of ['example.com/team', 'localhost/Team', 'localhostx']) {
        const r = await server.cli(['key', 'add', '--prefix', prefix, file]);
        assert.equal(r.code, 1, prefix);
        assert.match(r.stderr, /KEY_PREFIX_/, prefix);
      }
    });

    it('removes a key by fingerprint in any case, with or without spaces', async () => {
      const key = await gpg.genKey({ algo: 'rsa2048' });
      await server.cli(['key', 'add', '--prefix', 'localhost/gone', await keyFile('g.asc', await gpg.exportPublic(key.fingerprint))]);
      const spaced = key.fingerprint
        .toUpperCase()
        .replace(/(.{4})/g, '$1 ')
        .trim();
      const r = await server.cli(['key', 'remove', spaced]);
      assert.equal(r.code, 0, r.stderr);
      const again = await server.cli(['key', 'remove', key.fingerprint]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /KEY_NOT_FOUND/);
    });
  });

  describe('tokens', () => {
    it('prints only the token on stdout, details on stderr, and JSON details with --json', async () => {
      const r = await server.cli([
        'token',
        'create',
        '--prefix',
        'localhost/a',
        '--scope',
        'push',
        '--scope',
        'delete',
        '--name',
        'ci',
        '--expires',
        '30d',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^acih_[0-9a-f]{20}_[A-Za-z0-9_-]{43}\n$/);
      assert.match(r.stderr, /push,delete/);
      const j = await server.cli(['token', 'create', '--prefix', 'localhost/a', '--json']);
      const [token, json] = j.stdout.trim().split('\n');
      assert.match(token!, /^acih_/);
      const details = JSON.parse(json!);
      assert.deepEqual(details.scopes, ['push']);
      assert.equal(details.secretSha256, undefined);
      assert.ok(token!.includes(details.id));
    });

    it('lists tokens without any secret, and refuses unknown scopes and durations', async () => {
      const list = await server.cli(['token', 'list', '--json']);
      assert.equal(list.code, 0);
      assert.doesNotMatch(list.stdout, /acih_|secret/i);
      assert.equal((await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'root'])).code, 2);
      assert.equal((await server.cli(['token', 'create', '--prefix', 'localhost', '--expires', 'soon'])).code, 2);
      assert.equal((await server.cli(['token', 'create'])).code, 2);
    });

    it('refuses prefixes outside the image domain or not AC identifiers, as key add does, printing no token', async () => {
      for (const [prefix, code] of [
        ['example.com/team', 'TOKEN_PREFIX_OUTSIDE_DOMAIN'],
        ['localhostx', 'TOKEN_PREFIX_OUTSIDE_DOMAIN'],
        ['localhost/Team', 'TOKEN_PREFIX_INVALID'],
      ]) {
        const r = await server.cli(['token', 'create', '--prefix', 'localhost/ok', '--prefix', prefix!]);
        assert.equal(r.code, 1, prefix);
        assert.equal(r.stdout, '', prefix);
        assert.match(r.stderr, new RegExp(`${code}`), prefix);
        assert.match(r.stderr, /image domain localhost|such as localhost\/team/, prefix);
      }
      const list = JSON.parse((await server.cli(['token', 'list', '--json'])).stdout);
      assert.ok(!list.some((t: { prefixes: string[] }) => t.prefixes.includes('localhost/ok')), 'no token was stored');
    });

    it('a new token works at once; a revoked one stops within 2 s on the running server', async () => {
      const r = await server.cli(['token', 'create', '--prefix', 'localhost/rev', '--json']);
      const [token, json] = r.stdout.trim().split('\n');
      const id = JSON.parse(json!).id;
      const probe = async () => (await server.request('/-/push', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status;
      assert.equal(await probe(), 400, 'authenticated (then refused for its empty body)');
      assert.equal((await server.cli(['token', 'revoke', id])).code, 0);
      const took = await eventually(async () => (await probe()) === 401, 2000);
      assert.ok(took <= 2000);
      assert.equal((await server.cli(['token', 'revoke', id])).code, 1);
    });

    it('makes admin tokens, and lists who made each token, its last use and a coming expiry', async () => {
      const r = await server.cli(['token', 'create', '--prefix', 'localhost/team', '--scope', 'admin', '--name', 'team admin', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const [admin, json] = r.stdout.trim().split('\n');
      const details = JSON.parse(json!);
      assert.deepEqual(details.scopes, ['admin']);
      assert.match(details.createdBy, /^cli:/);
      // Made 20 days ago to last 30, through the storage the CLI shares: in its last two weeks.
      const tokens = new TokenStore(new FsStorage(server.storageDir), 'localhost');
      const soon = await tokens.create(
        { prefixes: ['localhost/soon'], scopes: ['push'], name: 'soon', expiresInSeconds: 30 * 86_400 },
        new Date(Date.now() - 20 * 86_400_000),
      );
      const made = await server.request('/-/api/tokens', {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ prefix: 'localhost/team/app', name: 'made over the API' })),
      });
      assert.equal(made.status, 201, made.body.toString());
      const lines = (await server.cli(['token', 'list'])).stdout.split('\n');
      const line = (id: string) => lines.find((l) => l.startsWith(id))!;
      assert.match(line(details.id), /admin {2}localhost\/team {2}expires \S+ {2}last used \S+Z {2}by cli:\S+ {2}team admin$/);
      assert.match(line(soon.record.id), /expires \S+ \(expiring soon\) {2}last used never {2}by unknown {2}soon$/);
      assert.match(line(JSON.parse(made.body.toString()).id), new RegExp(`by ${details.id} {2}made over the API$`));
      const listed = JSON.parse((await server.cli(['token', 'list', '--json'])).stdout);
      assert.equal(listed.find((t: { id: string }) => t.id === soon.record.id).expiringSoon, true);
    });

    it('lists the same tokens, field for field, as GET /-/api/tokens shows an admin of the whole domain', async () => {
      const admin = (await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'admin'])).stdout.split('\n')[0]!;
      const api = async () => {
        const res = await server.request('/-/api/tokens', { headers: { authorization: `Bearer ${admin}` } });
        assert.equal(res.status, 200, res.body.toString());
        return JSON.parse(res.body.toString()).tokens;
      };
      // The first call is the admin token's first use: wait until it is stored, so both read the same.
      await api();
      await eventually(
        async () =>
          JSON.parse((await server.cli(['token', 'list', '--json'])).stdout).every(
            (t: { lastUsedAt: string | null; id: string }) => t.id !== admin.split('_')[1] || t.lastUsedAt,
          ),
        2000,
      );
      const cli = JSON.parse((await server.cli(['token', 'list', '--json'])).stdout);
      assert.ok(cli.length >= 5);
      assert.deepEqual(await api(), cli);
    });

    it('accepts the token as a Basic auth password, as acpush and auth.d send it', async () => {
      const token = (await server.cli(['token', 'create', '--prefix', 'localhost/basic'])).stdout.split('\n')[0]!;
      const basic = Buffer.from(`anyone:${token}`).toString('base64');
      const res = await server.request('/-/push', { method: 'POST', headers: { authorization: `Basic ${basic}` } });
      assert.equal(res.status, 400);
      const wrong = Buffer.from(`anyone:acih_nope`).toString('base64');
      assert.equal((await server.request('/-/push', { method: 'POST', headers: { authorization: `Basic ${wrong}` } })).status, 401);
    });
  });
});
