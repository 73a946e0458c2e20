/**
 * acihost behind a TLS-terminating proxy (Debian's HAProxy): ACIHOST_TLS=off,
 * the proxy on the public URL's port, a push with curl and a fetch with acfetch
 * (the rkt stand-in) through it. X-Forwarded-For is believed from the proxy's
 * address only, and every generated URL is the public one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { freePort, startTestServer, waitFor, type TestServer } from '../helpers/server.ts';
import { createTestCertificate, httpsRequest } from '../helpers/tls.ts';

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;
// The proxy reaches acihost from this loopback address, the client uses another one.
const PROXY_SOURCE = '127.0.0.2';
const CLIENT = '127.0.0.3';

describe('behind HAProxy with ACIHOST_TLS=off', () => {
  let acihost: TestServer;
  let haproxy: ChildProcess;
  let gpg: Gpg;
  let origin: string;
  let backendPort: number;
  let caFile: string;
  let caPem: string;
  let token: string;
  let aciBytes: Buffer;

  before(async () => {
    const proxyPort = await freePort();
    origin = `https://localhost:${proxyPort}`;
    acihost = await startTestServer({
      logs: true,
      env: { ACIHOST_PUBLIC_URL: origin, ACIHOST_TLS: 'off', ACIHOST_TRUST_PROXY: PROXY_SOURCE },
    });
    const { dir, port } = acihost;
    backendPort = port;
    const cert = await createTestCertificate(['localhost']);
    caPem = cert.caPem;
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, cert.caPem);
    await writeFile(join(dir, 'haproxy.pem'), cert.certPem + cert.keyPem);
    await writeFile(join(dir, 'haproxy.cfg'), haproxyConfig(proxyPort, port, join(dir, 'haproxy.pem')));
    haproxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    haproxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(`haproxy to listen (${stderr})`, () =>
      httpsRequest(`${origin}/-/health/ready`, { ca: caPem, timeoutMs: 500 }).then(
        (r) => (r.status === 200 ? true : undefined),
        () => undefined,
      ),
    );
    gpg = await createGpg();
    const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
    await writeFile(join(dir, 'key.asc'), await gpg.exportPublic(key.fingerprint));
    assert.equal((await acihost.cli(['key', 'add', '--prefix', 'localhost', join(dir, 'key.asc')])).code, 0);
    token = (await acihost.cli(['token', 'create', '--prefix', 'localhost'])).stdout.split('\n')[0]!;
    aciBytes = await buildAci({ name: 'localhost/app', version: '1.0.0' });
    await writeFile(join(dir, 'app.aci'), aciBytes);
    await gpg.signFile(join(dir, 'app.aci'), key.fingerprint);
  });
  after(async () => {
    haproxy?.kill('SIGTERM');
    await acihost?.close();
    await gpg?.cleanup();
  });

  it('takes a push through the proxy and answers with public URLs', async () => {
    const { dir } = acihost;
    const res = await curlPush({
      origin,
      caFile,
      token,
      aci: join(dir, 'app.aci'),
      asc: join(dir, 'app.aci.asc'),
      extraArgs: ['--interface', CLIENT, '-H', 'X-Forwarded-For: 203.0.113.1'],
    });
    assert.equal(res.status, 201, res.raw);
    assert.equal(res.json.aciUrl, `${origin}/-/aci/localhost/app/1.0.0/linux/amd64.aci`);
    // The client's address came from the trusted proxy's X-Forwarded-For (its own, appended), not the forged entry.
    const line = acihost.logs.find((l) => l.msg === 'request completed' && l.route === '/-/push');
    assert.equal(line?.ip, CLIENT);
  });

  it('is fetched and verified through the proxy by acfetch, as rkt would', async () => {
    const { stdout } = await run(ACFETCH, ['--cafile', caFile, '--port', origin.split(':')[2]!, 'localhost/app:1.0.0']);
    assert.equal(stdout.trim(), 'sha512-' + createHash('sha512').update(gunzipSync(aciBytes)).digest('hex'));
    const page = await httpsRequest(`${origin}/app?ac-discovery=1`, { ca: caPem });
    assert.match(page.body.toString(), new RegExp(`content="localhost/app ${origin}/-/aci/`));
  });

  it('ignores X-Forwarded-For from an address that is not a configured proxy', async () => {
    const before = acihost.logs.length;
    const { stdout } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--interface',
      CLIENT,
      '-H',
      'X-Forwarded-For: 203.0.113.1',
      `http://127.0.0.1:${backendPort}/-/health/live`,
    ]);
    assert.equal(stdout, '200');
    const line = acihost.logs.slice(before).find((l) => l.msg === 'request completed');
    assert.equal(line?.ip, CLIENT);
  });
});

function haproxyConfig(listenPort: number, backendPort: number, pem: string): string {
  return `global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend public
  bind 127.0.0.1:${listenPort} ssl crt ${pem}
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  default_backend acihost
backend acihost
  server acihost 127.0.0.1:${backendPort} source ${PROXY_SOURCE}
`;
}
