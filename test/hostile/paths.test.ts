/**
 * Hostile coordinates in URLs, over real HTTPS with each path sent verbatim (clients
 * such as curl would normalise `..` away): every URL that carries a name, version,
 * os or arch answers 404 (or 401/403, or a push's own 422) in the documented error
 * shape, never a 5xx; nothing is stored, no error is logged, no internals are shown.
 * Pushes over the name and label length limits are refused with 422, by curl and acpush.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import fc from 'fast-check';
import { MAX_LABEL_BYTES, MAX_NAME_BYTES, MAX_NAME_SEGMENT_BYTES } from '../../src/names.ts';
import { buildAci, type BuildAciOptions } from '../helpers/aci-builder.ts';
import { acpush } from '../helpers/acpush-client.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { startOpsServer, type OpsServer } from '../helpers/ops-server.ts';
import { curlPush } from '../helpers/push.ts';
import { freePort } from '../helpers/server.ts';
import { assertNoInternals, unharmed } from './support.ts';

interface RawResponse {
  status: number;
  body: string;
}

const LONG = 'a'.repeat(300);

/** `NAME/VERSION/OS/ARCH` paths (as sent, percent-encoding and all), each one trick. */
const TRICKS: Record<string, string> = {
  'dot-dot segment': 'localhost/app/../1.0.0/linux/amd64',
  'dot-dot as the version': 'localhost/app/../linux/amd64',
  'encoded dot-dot': 'localhost/app/%2e%2e/linux/amd64',
  'encoded dot-dot with encoded slashes': 'localhost/app/%2e%2e%2f%2e%2e%2f%2e%2e/linux/amd64',
  'climb out through the name': '..%2f..%2f..%2fetc/1.0.0/linux/amd64',
  'double slash': 'localhost//app/1.0.0/linux/amd64',
  'dot segment': 'localhost/./app/1.0.0/linux/amd64',
  'encoded NUL': 'localhost/app/1.0.0%00/linux/amd64',
  'encoded backslash': 'localhost%5capp/1.0.0/linux/amd64',
  'encoded slash in the arch': 'localhost/app/1.0.0/linux/..%2f..%2famd64',
  'layout segment in the name': 'localhost/app/_v/linux-amd64/1.0.0/linux/amd64',
  'name segment over 255 bytes': `localhost/${LONG}/1.0.0/linux/amd64`,
  'name over 512 bytes': `localhost/${[LONG, LONG].join('/')}/1.0.0/linux/amd64`,
  'version over 255 bytes': `localhost/app/${LONG}/linux/amd64`,
  'os over 255 bytes': `localhost/app/1.0.0/${LONG}/amd64`,
  'arch over 255 bytes': `localhost/app/1.0.0/linux/${LONG}`,
  'invalid UTF-8': 'localhost/app/%ff%fe/linux/amd64',
  'broken percent-encoding': 'localhost/app/1.0.0%/linux/amd64',
};

describe('hostile coordinates in URLs', () => {
  let server: OpsServer;
  let gpg: Gpg;
  let key: GpgKey;
  let origin: string;
  let port: number;
  let caFile: string;
  let token: string;
  let storageDir: string;
  let files = 0;

  /** One request with `path` sent exactly as given. */
  function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, servername: 'localhost', ca: server.caPem, method, path, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path.slice(0, 100)} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }

  const bearer = () => ({ authorization: `Bearer ${token}` });

  /** A refusal in the documented shape that shows nothing of the server's insides. */
  function assertRefusal(res: RawResponse, statuses: number[], what: string): void {
    assert.ok(statuses.includes(res.status), `${what}: status ${res.status}, body ${res.body.slice(0, 300)}`);
    assertNoInternals(res.body);
    if (res.body === '') return; // HEAD
    if (res.body.startsWith('<!doctype html>')) return; // the discovery page's own 404
    const body = JSON.parse(res.body);
    assert.deepEqual(Object.keys(body), ['error'], what);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], what);
    assert.match(body.error.code, /^[A-Z][A-Z0-9_]*$/, what);
    assert.ok(typeof body.error.message === 'string' && body.error.message.length > 0, what);
  }

  /** Log lines at error level or above, written since `from`. */
  const errorsLogged = (from: number) => server.logs.slice(from).filter((l) => l.level >= 50);

  async function signed(build: BuildAciOptions): Promise<{ aci: string; asc: string }> {
    const aci = join(server.dir, `image-${++files}.aci`);
    await writeFile(aci, await buildAci(build));
    return { aci, asc: await gpg.signFile(aci, key.fingerprint) };
  }

  before(async () => {
    port = await freePort();
    origin = `https://localhost:${port}`;
    [server, gpg] = await Promise.all([
      startOpsServer({
        env: { ACIHOST_PORT: String(port), ACIHOST_PUBLIC_URL: origin },
        // Refusals without a token are part of the test, not an attack to slow down.
        config: { rateLimit: { failedAuthAttempts: 1_000_000 } },
      }),
      createGpg(),
    ]);
    storageDir = server.config.storage.dir;
    caFile = join(server.dir, 'certs', 'ca.pem');
    key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
    await writeFile(join(server.dir, 'key.asc'), await gpg.exportPublic(key.fingerprint));
    assert.equal((await server.cli(['key', 'add', '--prefix', 'localhost', join(server.dir, 'key.asc')])).code, 0);
    const created = await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'push', '--scope', 'delete']);
    token = created.stdout.split('\n')[0]!;
    const image = await signed({ name: 'localhost/app', version: '1.0.0' });
    const pushed = await curlPush({ origin, caFile, token, ...image });
    assert.equal(pushed.status, 201, pushed.raw);
  });
  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  it('the stored image is served at its plain address (the control case)', async () => {
    assert.equal((await raw('GET', '/-/aci/localhost/app/1.0.0/linux/amd64.aci')).status, 200);
    assert.equal((await raw('HEAD', '/-/aci/localhost/app/1.0.0/linux/amd64.aci.asc')).status, 200);
  });

  for (const [trick, coordinates] of Object.entries(TRICKS)) {
    it(`${trick}: 404 on every URL with coordinates, nothing stored or logged as an error`, async () => {
      const storage = await unharmed(storageDir);
      const logged = server.logs.length;
      const name = coordinates.split('/').slice(0, -3).join('/');
      for (const method of ['GET', 'HEAD']) {
        for (const ext of ['aci', 'aci.asc']) {
          assertRefusal(await raw(method, `/-/aci/${coordinates}.${ext}`), [404], `${method} .${ext}`);
        }
      }
      assertRefusal(await raw('DELETE', `/-/api/images/${coordinates}`, bearer()), [404], 'DELETE');
      assertRefusal(await raw('DELETE', `/-/api/images/${coordinates}`), [401, 404], 'DELETE without a token');
      // URLs that carry only a name, where the trick is in the name.
      if (name !== 'localhost/app') {
        const path = name.replace(/^localhost\/?/, '');
        for (const method of ['GET', 'HEAD']) assertRefusal(await raw(method, `/${path}/pubkeys.gpg`), [404], `${method} pubkeys.gpg`);
        assertRefusal(await raw('GET', `/-/api/images/${name}`), [404], 'GET the API name');
        assertRefusal(await raw('GET', `/${path}?ac-discovery=1`), [404], 'discovery page');
      }
      // acpush start: the URL's shape is a 404, its values a push's own refusal, and no upload is opened.
      assertRefusal(await raw('POST', `/-/acpush/start/${coordinates}.aci`, bearer()), [404, 422], 'acpush start');
      await storage.check();
      assert.deepEqual(errorsLogged(logged), []);
    });
  }

  it('arbitrary name, version, os and arch in file and DELETE URLs: 404, never a 5xx', async () => {
    const storage = await unharmed(storageDir);
    const logged = server.logs.length;
    const percentBytes = fc.uint8Array({ maxLength: 40 }).map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''));
    const segment = fc.oneof(
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
      percentBytes,
      fc.stringMatching(/^[a-z0-9.\/\\~_-]{0,30}$/).map((s) => s.replaceAll('\\', '%5c')),
      fc.constantFrom(
        '',
        '.',
        '..',
        '%2e%2e',
        '%2E%2e',
        '%00',
        '%5c',
        '%2f',
        '/',
        '//',
        '..%2f..',
        'linux',
        'amd64',
        '1.0.0',
        'localhost/app',
      ),
      fc.integer({ min: 200, max: 1100 }).map((n) => 'a'.repeat(n)),
    );
    const coordinates = fc.tuple(segment, segment, segment, segment).map((parts) => parts.join('/'));
    await fc.assert(
      fc.asyncProperty(coordinates, fc.constantFrom('aci', 'aci.asc'), async (c, ext) => {
        assertRefusal(await raw('GET', `/-/aci/${c}.${ext}`), [401, 403, 404], `GET ${c}.${ext}`);
        assertRefusal(await raw('HEAD', `/-/aci/${c}.${ext}`), [401, 403, 404], `HEAD ${c}.${ext}`);
        assertRefusal(await raw('DELETE', `/-/api/images/${c}`, bearer()), [401, 403, 404], `DELETE ${c}`);
      }),
      { numRuns: 120 },
    );
    await storage.check();
    assert.deepEqual(errorsLogged(logged), []);
  });

  describe('length limits on push', () => {
    const longName = `localhost/${'a'.repeat(MAX_NAME_SEGMENT_BYTES - 1)}/${'b'.repeat(MAX_NAME_SEGMENT_BYTES - 1)}`;
    assert.ok(Buffer.byteLength(longName) > MAX_NAME_BYTES);
    const longSegment = `localhost/${'a'.repeat(MAX_NAME_SEGMENT_BYTES + 1)}`;
    const longVersion = '1'.repeat(MAX_LABEL_BYTES + 1);

    it('curl: 422 NAME_TOO_LONG or LABEL_TOO_LONG naming the limit, nothing stored', async () => {
      const storage = await unharmed(storageDir);
      for (const [build, code, limit] of [
        [{ name: longName }, 'NAME_TOO_LONG', /at most 512 bytes/],
        [{ name: longSegment }, 'NAME_TOO_LONG', /part at most 255/],
        [{ name: 'localhost/app', version: longVersion }, 'LABEL_TOO_LONG', /version label is 129 bytes.*at most 128 bytes/],
        [{ name: 'localhost/app', arch: 'x'.repeat(MAX_LABEL_BYTES + 1) }, 'LABEL_TOO_LONG', /arch label.*at most 128 bytes/],
      ] as const) {
        const res = await curlPush({ origin, caFile, token, ...(await signed(build)) });
        assert.equal(res.status, 422, res.raw);
        assert.equal(res.json.error.code, code);
        assert.match(res.json.error.message, limit);
      }
      await storage.check();
    });

    it('acpush: the start refuses a name or label over the limit; a long manifest version fails at completion', async () => {
      const storage = await unharmed(storageDir);
      const run = async (build: BuildAciOptions, o: { name: string; version?: string }) => {
        const image = await signed(build);
        const { readFile } = await import('node:fs/promises');
        return acpush({
          origin,
          ca: server.caPem,
          auth: { basic: { user: 'any', password: token } },
          aci: await readFile(image.aci),
          asc: await readFile(image.asc),
          ...o,
        });
      };
      const name = await run({ name: longName }, { name: longName, version: '1.0.0' });
      assert.equal(name.exitCode, 1);
      assert.equal(name.start?.status, 422);
      assert.equal(name.start?.json.error.code, 'NAME_TOO_LONG');
      assert.match(name.start?.json.error.message, /at most 512 bytes/);

      const label = await run({ name: 'localhost/app' }, { name: 'localhost/app', version: longVersion });
      assert.equal(label.start?.status, 422);
      assert.equal(label.start?.json.error.code, 'LABEL_TOO_LONG');

      // Without a version in the name acpush sends `latest`: the image's own label is refused at completion.
      const manifest = await run({ name: 'localhost/app', version: longVersion }, { name: 'localhost/app' });
      assert.equal(manifest.exitCode, 1);
      assert.equal(manifest.completion?.json.reason, 'LABEL_TOO_LONG');
      assert.match(manifest.stderr, /^err: LABEL_TOO_LONG: the version label is 129 bytes.*at most 128 bytes/);
      await storage.check();
    });
  });
});
