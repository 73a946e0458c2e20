/**
 * Where the served certificate comes from and what is said about it: the
 * development CA also names the public URL's host, `acihost cert info` prints
 * what would be served, a certificate near expiry is warned about, and
 * readiness fails while no real certificate is served.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificate } from '../../src/tls/dev-ca.ts';
import { createCertificateAuthority, issueServerCertificate } from '../../src/tls/issue.ts';
import { freePort, servedCertificate, startTestServer, waitFor } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';

describe('certificate sources', () => {
  it('the development certificate also names the public host, and cert info describes it', async (t) => {
    const port = await freePort();
    const server = await startTestServer({ env: { ACIHOST_PORT: String(port), ACIHOST_PUBLIC_URL: `https://aci.example.test:${port}` } });
    t.after(() => server.close());
    const cert = await servedCertificate(port, 'aci.example.test');
    assert.match(cert.subjectAltName!, /DNS:aci\.example\.test/);
    assert.match(cert.subjectAltName!, /DNS:localhost/);
    const res = await httpsRequest(`https://127.0.0.1:${port}/-/health/live`, { ca: server.caPem, servername: 'aci.example.test' });
    assert.equal(res.status, 200);
    const info = await server.cli(['cert', 'info']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^source: +dev-ca$/m);
    assert.match(info.stdout, /^sans: +.*DNS:aci\.example\.test/m);
    assert.match(info.stdout, /^issuer: +CN=acihost development CA$/m);
    assert.match(info.stdout, /^sha256: +[0-9A-F:]{95}$/m);
  });

  it('opens the plain-HTTP port when told to, and it only redirects to the public URL', async (t) => {
    const httpPort = await freePort();
    const server = await startTestServer({ env: { ACIHOST_HTTP_PORT: String(httpPort) } });
    t.after(() => server.close());
    const { origin } = server;
    assert.equal(server.running.httpUrl, `http://127.0.0.1:${httpPort}`);
    const get = await fetch(`http://127.0.0.1:${httpPort}/team/app?ac-discovery=1`, { redirect: 'manual' });
    assert.equal(get.status, 301);
    assert.equal(get.headers.get('location'), `${origin}/team/app?ac-discovery=1`);
    const post = await fetch(`http://127.0.0.1:${httpPort}/-/push`, { method: 'POST', body: 'x', redirect: 'manual' });
    assert.equal(post.status, 308);
    const challenge = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/nothing`);
    assert.equal(challenge.status, 404);
  });

  it('warns 14 days before the certificate expires', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'acihost-expiring-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = await createCertificateAuthority();
    const pair = await issueServerCertificate(ca, ['localhost'], { validityDays: 10 });
    await writeFile(join(dir, 'cert.pem'), pair.certPem);
    await writeFile(join(dir, 'key.pem'), pair.keyPem);
    const server = await startTestServer({
      logs: true,
      env: { ACIHOST_TLS_CERT: join(dir, 'cert.pem'), ACIHOST_TLS_KEY: join(dir, 'key.pem') },
    });
    t.after(() => server.close());
    const warning = await waitFor('the expiry warning', () => server.logs.find((l) => l.level === 40 && /expires soon/.test(l.msg)));
    assert.equal(warning.days, 9);
  });

  it('is not ready while no real certificate is served, and says which check fails', async (t) => {
    const server = await startTestServer();
    t.after(() => server.close());
    const { port } = server;
    const ask = async () => JSON.parse((await server.request('/-/health/ready')).body.toString());
    assert.equal((await ask()).status, 'ready');
    // As while ACME orders the first certificate: a throw-away certificate is served.
    const placeholder = await createTestCertificate(['localhost']);
    assert.ok(server.running.state.certificate!.offer(placeholder, 'placeholder', 'test'));
    const res = await httpsRequest(`https://localhost:${port}/-/health/ready`, { ca: placeholder.caPem });
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body.toString()).checks, { config: 'ok', storage: 'ok', certificate: 'missing', lifecycle: 'ok' });
    const metrics = (await httpsRequest(`https://localhost:${port}/-/metrics`, { ca: placeholder.caPem })).body.toString();
    assert.match(metrics, /^acihost_certificate_valid 0$/m);
  });

  it('cert info with TLS off says the proxy serves the certificate', async () => {
    const server = await startTestServer({ env: { ACIHOST_TLS: 'off' } });
    const { port } = server;
    try {
      const info = await server.cli(['cert', 'info', '--json']);
      assert.equal(JSON.parse(info.stdout).source, 'off');
      const res = await fetch(`http://127.0.0.1:${port}/-/health/ready`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { checks: { certificate: string } }).checks.certificate, 'off');
    } finally {
      await server.close();
    }
  });
});
