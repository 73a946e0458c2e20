/**
 * Server signing keys, end to end against `acihost serve` in a child process: `key generate`
 * and its secret, unsigned pushes signed by the server for tokens with the sign scope, what
 * rkt's stand-in (acfetch) and gpg make of those signatures, retirement and rotation, the
 * server's refusal to start without the secret, and the secret key never leaving storage.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { curlPush, type CurlResult } from '../helpers/push.ts';
import { runCli, serverSetup, spawnServer, type CliResult, type ServerProcess, type ServerSetup } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { acfetch, eventually } from '../helpers/trust.ts';
import { readDetachedSignature } from '../../src/signing/signature.ts';
import { verifyDetached } from '../../src/signing/verifier.ts';

const run = promisify(execFile);
const SECRET = 'correct horse battery staple 42';

describe('server signing keys', () => {
  let setup: ServerSetup;
  let server: ServerProcess;
  let gpg: Gpg;
  let caPem: string;
  let signToken: string;
  let pushToken: string;
  let serverKey: string;
  /** Everything acihost printed or answered, searched for key material at the end. */
  const seen: string[] = [];
  let images = 0;

  const cli = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const r = await runCli([...args, '--config', setup.configFile], { ...setup.env, ...env });
    seen.push(r.stdout, r.stderr);
    return r;
  };
  const get = async (path: string) => {
    const res = await httpsRequest(setup.origin + path, { ca: caPem });
    seen.push(res.body.toString('utf8'));
    return res;
  };
  const push = async (name: string, version: string, opts: { token: string; signWith?: string }): Promise<CurlResult & { aci: Buffer }> => {
    const aci = await buildAci({ name, version });
    const aciPath = join(setup.dir, `image-${++images}.aci`);
    await writeFile(aciPath, aci);
    const asc = opts.signWith ? await gpg.signFile(aciPath, opts.signWith) : undefined;
    const res = await curlPush({ origin: setup.origin, caFile: setup.caFile, token: opts.token, aci: aciPath, asc });
    seen.push(res.raw);
    return { ...res, aci };
  };
  const token = async (args: string[]) => {
    const r = await cli(['token', 'create', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n')[0]!;
  };

  before(async () => {
    [setup, gpg] = await Promise.all([serverSetup({ env: { ACIHOST_SIGNING_SECRET: SECRET, ACIHOST_STORAGE_POLL_INTERVAL_MS: '200' } }), createGpg()]);
    const made = await cli(['key', 'generate', '--prefix', 'localhost/apps']);
    assert.equal(made.code, 0, made.stderr);
    serverKey = made.stdout.split(' ')[0]!;
    server = await spawnServer(setup);
    caPem = await readFile(setup.caFile, 'utf8');
    signToken = await token(['--prefix', 'localhost', '--scope', 'sign']);
    pushToken = await token(['--prefix', 'localhost', '--scope', 'push']);
  });
  after(async () => {
    await server?.stop();
    await gpg?.cleanup();
  });

  describe('key generate', () => {
    it('prints the fingerprint, RSA 3072 and the prefix, as key add does', () => {
      assert.match(serverKey, /^[0-9a-f]{40}$/);
      assert.ok(seen.some((s) => s.startsWith(`${serverKey} rsa3072 acihost signing key for localhost/apps trusted for localhost/apps`)));
    });

    it('refuses without the secret, with both variables set, or with one too short, naming the variables', async () => {
      const file = join(setup.dir, 'secret.txt');
      await writeFile(file, `${SECRET}\n`);
      const cases: [Record<string, string>, RegExp][] = [
        [{ ACIHOST_SIGNING_SECRET: '' }, /ACIHOST_SIGNING_SECRET .*ACIHOST_SIGNING_SECRET_FILE/],
        [{ ACIHOST_SIGNING_SECRET_FILE: file }, /both set/],
        [{ ACIHOST_SIGNING_SECRET: 'too short' }, /shorter than 16 characters/],
        [{ ACIHOST_SIGNING_SECRET: '', ACIHOST_SIGNING_SECRET_FILE: join(setup.dir, 'none.txt') }, /cannot read/],
      ];
      for (const [env, message] of cases) {
        const r = await cli(['key', 'generate', '--prefix', 'localhost/never'], env);
        assert.equal(r.code, 2, JSON.stringify(env));
        assert.match(r.stderr, message, JSON.stringify(env));
        assert.ok(!r.stderr.includes('too short'), 'the secret is not repeated');
      }
    });

    it('is checked by check-config: both variables set is a problem', async () => {
      const file = join(setup.dir, 'secret-both.txt');
      await writeFile(file, SECRET);
      const r = await cli(['check-config', '--json'], { ACIHOST_SIGNING_SECRET_FILE: file });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(JSON.parse(r.stdout).problems.some((p: string) => /ACIHOST_SIGNING_SECRET and ACIHOST_SIGNING_SECRET_FILE/.test(p)));
    });

    it('refuses a secret that does not open the keys already held', async () => {
      const r = await cli(['key', 'generate', '--prefix', 'localhost/other'], { ACIHOST_SIGNING_SECRET: 'another secret, long enough' });
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`does not open the server signing key\\(s\\) ${serverKey}`));
    });

    it('reads the secret from a file, its trailing newline dropped, and prints JSON with --json', async () => {
      const file = join(setup.dir, 'secret-file.txt');
      await writeFile(file, `${SECRET}\n`);
      const r = await cli(['key', 'generate', '--prefix', 'localhost/json', '--json'], {
        ACIHOST_SIGNING_SECRET: '',
        ACIHOST_SIGNING_SECRET_FILE: file,
      });
      assert.equal(r.code, 0, r.stderr);
      const key = JSON.parse(r.stdout);
      assert.equal(key.algorithm, 'rsa3072');
      assert.deepEqual(key.prefixes, ['localhost/json']);
      assert.equal(key.server, true);
    });

    it('is trusted like an added key: discovery, pubkeys.gpg, the key list and API', async () => {
      await eventually(
        () => get('/apps/x?ac-discovery=1'),
        (r) => r.body.toString().includes(serverKey),
      );
      assert.match((await get('/apps/x?ac-discovery=1')).body.toString(), new RegExp(serverKey));
      const pubkeys = await get('/apps/pubkeys.gpg');
      assert.equal(pubkeys.status, 200);
      const imported = await gpg.writeFile('server-pubkeys.gpg', pubkeys.body);
      await gpg.gpg(['--import', imported]);
      assert.match(await gpg.gpg(['--list-keys', '--with-colons', serverKey]), /acihost signing key for localhost\/apps/);
      const list = JSON.parse((await cli(['key', 'list', '--json'])).stdout) as { fingerprint: string; prefixes: string[] }[];
      assert.deepEqual(list.find((k) => k.fingerprint === serverKey)?.prefixes, ['localhost/apps']);
      const api = await get('/-/api/keys');
      assert.equal(api.status, 200);
      assert.match(api.body.toString(), new RegExp(serverKey));
    });
  });

  describe('pushes', () => {
    let signed: CurlResult & { aci: Buffer };

    before(async () => {
      signed = await push('localhost/apps/hello', '1.0.0', { token: signToken });
    });

    it('signs an unsigned push of a sign-scoped token and says so', () => {
      assert.equal(signed.status, 201, signed.raw);
      assert.equal(signed.json.signer, serverKey);
      assert.equal(signed.json.signedByServer, true);
    });

    it('serves a signature rkt reads: one packet, Issuer subpacket, CRC line, verifying the exact bytes', async () => {
      const asc = (await get('/-/aci/localhost/apps/hello/1.0.0/linux/amd64.aci.asc')).body;
      assert.match(asc.toString(), /^=[A-Za-z0-9+/]{4}$/m);
      const sig = await readDetachedSignature(asc);
      assert.equal(sig.issuerKeyId, serverKey.slice(-16));
      const keys = JSON.parse((await cli(['key', 'list', '--json'])).stdout) as { fingerprint: string }[];
      assert.ok(keys.some((k) => k.fingerprint === serverKey));
      const armored = (await get(`/apps/pubkeys.gpg`)).body.toString();
      const verdict = await verifyDetached(sig, [{ fingerprint: serverKey, armored }], Readable.from([signed.aci]));
      assert.equal(verdict.signerFingerprint, serverKey);
    });

    it('is accepted by gpg --verify against the discovered key', async () => {
      const aci = await gpg.writeFile('served.aci', signed.aci);
      const asc = await gpg.writeFile('served.aci.asc', (await get('/-/aci/localhost/apps/hello/1.0.0/linux/amd64.aci.asc')).body);
      const { stderr } = await run('gpg', ['--batch', '--status-fd', '2', '--verify', asc, aci], { env: { ...process.env, GNUPGHOME: gpg.home } });
      assert.match(stderr, new RegExp(`VALIDSIG ${serverKey.toUpperCase()}`));
    });

    it('is fetched and verified by acfetch as rkt fetch does', async () => {
      const r = await acfetch({ caFile: setup.caFile, port: setup.port }, ['localhost/apps/hello:1.0.0']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^sha512-[0-9a-f]{128}$/m);
    });

    it('records the server as the signer in the audit log', async () => {
      const lines = (await cli(['audit'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
      const event = lines.find((e) => e.action === 'push' && e.name === 'localhost/apps/hello' && e.result === 'created');
      assert.deepEqual(event?.detail, { signedBy: 'server', signer: serverKey });
    });

    it('refuses an unsigned push of a token with the push scope only, as before', async () => {
      const r = await push('localhost/apps/hello', '1.0.1', { token: pushToken });
      assert.equal(r.status, 400, r.raw);
      assert.equal(r.json.error.code, 'SIGNATURE_MISSING');
    });

    it('refuses with 422 where no server key covers the name, naming acihost key generate --prefix', async () => {
      const r = await push('localhost/elsewhere/app', '1.0.0', { token: signToken });
      assert.equal(r.status, 422, r.raw);
      assert.equal(r.json.error.code, 'SIGNING_KEY_MISSING');
      assert.match(r.json.error.message, /acihost key generate --prefix/);
    });

    it('publishes a sign-scoped push that brings its own signature as any push', async () => {
      const own = await gpg.genKey({ algo: 'rsa3072' });
      const file = await gpg.writeFile('own.asc', await gpg.exportPublic(own.fingerprint));
      assert.equal((await cli(['key', 'add', '--prefix', 'localhost/apps', file])).code, 0);
      const r = await eventually(
        () => push('localhost/apps/own', `1.0.${images}`, { token: signToken, signWith: own.fingerprint }),
        (res) => res.status === 201,
      );
      assert.equal(r.status, 201, r.raw);
      assert.equal(r.json.signer, own.fingerprint);
      assert.equal(r.json.signedByServer, undefined);
    });

    it('stops signing with a retired key (a clear 422), and signs with a newly generated one', async () => {
      assert.equal((await cli(['key', 'retire', serverKey])).code, 0);
      const refused = await eventually(
        () => push('localhost/apps/hello', `2.0.${images}`, { token: signToken }),
        // Retired between choosing the key and publishing, a push is refused by the publisher (SIGNATURE_KEY_RETIRED).
        (r) => r.json?.error?.code === 'SIGNING_KEY_MISSING',
      );
      assert.equal(refused.status, 422, refused.raw);
      assert.equal(refused.json.error.code, 'SIGNING_KEY_MISSING');
      assert.match(refused.json.error.message, new RegExp(`${serverKey} \\(retired\\).*acihost key generate --prefix localhost/apps`));

      const next = await cli(['key', 'generate', '--prefix', 'localhost/apps']);
      assert.equal(next.code, 0, next.stderr);
      const nextKey = next.stdout.split(' ')[0]!;
      const r = await eventually(
        () => push('localhost/apps/hello', `3.0.${images}`, { token: signToken }),
        (res) => res.status === 201,
      );
      assert.equal(r.status, 201, r.raw);
      assert.equal(r.json.signer, nextKey);
      // The retired key still verifies what it signed.
      const old = await acfetch({ caFile: setup.caFile, port: setup.port }, ['--all-keys', 'localhost/apps/hello:1.0.0']);
      assert.equal(old.code, 0, old.stderr);
    });
  });

  describe('starting the server', () => {
    // A server that starts after all is stopped by the timeout, and fails the test by its exit code.
    const serve = async (env: Record<string, string>): Promise<CliResult> => {
      const args = [new URL('../../src/cli.ts', import.meta.url).pathname, 'serve', '--config', setup.configFile];
      const r = await run(process.execPath, args, { env: { ...process.env, ...setup.env, ACIHOST_PORT: '0', ...env }, timeout: 20_000 }).then(
        ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
        (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
      );
      seen.push(r.stdout, r.stderr);
      return r;
    };

    it('refuses to start without the secret once a server key exists, naming the variables', async () => {
      const r = await serve({ ACIHOST_SIGNING_SECRET: '' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /server signing key.*ACIHOST_SIGNING_SECRET .*ACIHOST_SIGNING_SECRET_FILE/);
    });

    it('refuses to start with a secret that does not open the keys', async () => {
      const r = await serve({ ACIHOST_SIGNING_SECRET: 'not the secret, but long' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /does not open the server signing key/);
      assert.ok(!r.stderr.includes('not the secret, but long'));
    });
  });

  describe('the secret key', () => {
    it('appears in no log, output, answer or message, nor does the secret', async () => {
      seen.push(server.stderr());
      const stored = JSON.parse(await readFile(join(setup.storageDir, 'signing-keys', `${serverKey}.json`), 'utf8'));
      const encrypted: string = stored.encryptedPrivate;
      assert.match(encrypted, /BEGIN PGP PRIVATE KEY BLOCK/);
      const locked = await openpgp.readPrivateKey({ armoredKey: encrypted });
      assert.ok(!locked.isDecrypted(), 'stored encrypted');
      const open = await openpgp.decryptKey({ privateKey: locked, passphrase: SECRET });
      const bodyLines = (armored: string) => armored.split('\n').filter((l) => l.length === 64);
      const material = [
        'PRIVATE KEY BLOCK',
        SECRET,
        ...bodyLines(encrypted).slice(2),
        ...bodyLines(open.armor()).slice(2),
        Buffer.from(open.write()).subarray(-600, -300).toString('base64'),
      ];
      const everything = seen.join('\n');
      assert.ok(everything.length > 10_000, 'outputs were collected');
      for (const m of material) assert.ok(!everything.includes(m), `found key material or the secret: ${m.slice(0, 20)}...`);
    });
  });
});
