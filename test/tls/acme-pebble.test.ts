/**
 * ACME against a real RFC 8555 server: Pebble (Debian) with its mock DNS, which
 * validates every challenge for real on loopback. The server starts with no
 * certificate, obtains one (HTTP-01 on the plain-HTTP port, TLS-ALPN-01 on the
 * HTTPS port when that port is off), serves the full chain to a client that
 * trusts only Pebble's root, shares it with a second replica through storage,
 * and renews it when asked and when a third of its lifetime remains.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { createCertificateAuthority, issueServerCertificate } from '../../src/tls/issue.ts';
import { freePort, runCli, servedCertificate, serverSetup, startTestServer, waitFor, type TestServer } from '../helpers/server.ts';
import { startPebble, type Pebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';

const run = promisify(execFile);
const DOMAIN = 'aci.example.test';
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

describe('ACME certificates from Pebble', { concurrency: false }, () => {
  let pebble: Pebble;
  before(async () => {
    pebble = await startPebble();
  });
  after(async () => {
    await pebble?.stop();
  });

  const acmeEnv = (port: number, httpPort: string) => ({
    ACIHOST_PORT: String(port),
    ACIHOST_PUBLIC_URL: `https://${DOMAIN}:${port}`,
    ACIHOST_ACME_DIRECTORY: pebble.directoryUrl,
    ACIHOST_ACME_EMAIL: 'ops@example.test',
    ACIHOST_ACME_AGREE_TOS: 'true',
    ACIHOST_ACME_CA_FILE: pebble.directoryCaFile,
    ACIHOST_HTTP_PORT: httpPort,
  });
  const fastAcme = { tls: { acme: { checkIntervalSeconds: 1, pollIntervalMs: 100 } } };
  const issuedByPebble = async (port: number) => {
    const cert = await servedCertificate(port, DOMAIN);
    return cert.issuer.includes('Pebble') ? cert : undefined;
  };

  it('obtains a certificate with HTTP-01, serves the chain, shares it with a replica and renews on request', async (t) => {
    const dir = await tempDir('acihost-ops-');
    const port = await freePort();
    const storage = new FsStorage(join(dir, 'storage'));
    assert.equal(await storage.get(layout.acmeCertificate), null, 'starts without a certificate');
    const server = await startTestServer({ logs: true, dir, env: acmeEnv(port, String(pebble.http01Port)), config: fastAcme });
    const servers: TestServer[] = [server];
    t.after(async () => {
      for (const s of servers) await s.close();
    });
    assert.equal(server.running.httpUrl, `http://127.0.0.1:${pebble.http01Port}`);

    const first = await waitFor('the Pebble certificate', () => issuedByPebble(port));
    assert.match(first.subjectAltName ?? '', new RegExp(`DNS:${DOMAIN}`));
    assert.ok(server.logs.some((l) => l.msg === 'ordering certificate' && l.challenge === 'http-01'));
    // A client that trusts only Pebble's root: the full chain is served.
    const res = await httpsRequest(`https://127.0.0.1:${port}/-/health/ready`, { ca: pebble.issuedRootPem, servername: DOMAIN });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).checks.certificate, 'ok');
    const rootFile = join(dir, 'pebble-root.pem');
    await writeFile(rootFile, pebble.issuedRootPem);
    const curl = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      rootFile,
      '--resolve',
      `${DOMAIN}:${port}:127.0.0.1`,
      `https://${DOMAIN}:${port}/`,
    ]);
    assert.equal(curl.stdout, '200');
    // Account key and certificate live in storage, for every replica.
    assert.ok(await storage.get(layout.acmeAccount));
    const stored = JSON.parse((await storage.get(layout.acmeCertificate))!.toString());
    assert.equal(stored.domain, DOMAIN);
    assert.ok((stored.certPem.match(/BEGIN CERTIFICATE/g) ?? []).length >= 2, 'the stored chain includes the intermediate');

    // The plain-HTTP listener redirects everything that is not a challenge.
    const redirect = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
      `${server.running.httpUrl}/team/app?x=1`,
    ]);
    assert.equal(redirect.stdout, `301 https://${DOMAIN}:${port}/team/app?x=1`);

    // A second replica on the same storage serves the same certificate without ordering.
    const port2 = await freePort();
    const replica = await startTestServer({ logs: true, dir, env: acmeEnv(port2, 'off'), config: fastAcme });
    servers.push(replica);
    const replicaCert = await waitFor('the replica to serve the stored certificate', () => issuedByPebble(port2));
    assert.equal(replicaCert.fingerprint256, first.fingerprint256);
    assert.ok(!replica.logs.some((l) => l.msg === 'ordering certificate'));

    // `acihost cert renew`: a new certificate, swapped in without a restart, on both replicas.
    const renew = await server.cli(['cert', 'renew']);
    assert.equal(renew.code, 0, renew.stderr);
    const renewed = await waitFor('a renewed certificate', async () => {
      const cert = await issuedByPebble(port);
      return cert && cert.fingerprint256 !== first.fingerprint256 ? cert : undefined;
    });
    await waitFor('the replica to pick up the renewal', async () => {
      const cert = await issuedByPebble(port2);
      return cert?.fingerprint256 === renewed.fingerprint256 ? true : undefined;
    });
    assert.equal(await storage.get(layout.acmeRenew), null, 'the renewal request is cleared');
    const info = await server.cli(['cert', 'info', '--json']);
    assert.equal(info.code, 0, info.stderr);
    const described = JSON.parse(info.stdout);
    assert.equal(described.source, 'acme');
    assert.equal(described.info.sha256, renewed.fingerprint256);
  });

  it('uses TLS-ALPN-01 on the HTTPS port when no plain-HTTP port is open, and renews a certificate with a third of its life left', async (t) => {
    const dir = await tempDir('acihost-ops-');
    const storage = new FsStorage(join(dir, 'storage'));
    // A stored certificate for the domain with 1 of its 21 days left: due.
    const ca = await createCertificateAuthority();
    const old = await issueServerCertificate(ca, [DOMAIN], { now: new Date(Date.now() - 20 * 86_400_000), validityDays: 21 });
    await storage.put(
      layout.acmeCertificate,
      Buffer.from(JSON.stringify({ ...old, domain: DOMAIN, directoryUrl: pebble.directoryUrl, issuedAt: new Date().toISOString() })),
    );
    const server = await startTestServer({ logs: true, dir, env: acmeEnv(pebble.tlsAlpn01Port, 'off'), config: fastAcme });
    t.after(() => server.close());
    assert.equal(server.running.httpUrl, undefined);
    const cert = await waitFor('the Pebble certificate', () => issuedByPebble(pebble.tlsAlpn01Port));
    assert.match(cert.subjectAltName ?? '', new RegExp(`DNS:${DOMAIN}`));
    assert.ok(
      server.logs.some((l) => l.msg === 'serving certificate' && l.source === 'acme' && l.reason === 'storage'),
      'served the stored one first',
    );
    assert.ok(server.logs.some((l) => l.msg === 'ordering certificate' && l.challenge === 'tls-alpn-01'));
    // Ordinary clients still negotiate HTTP/1.1 on the same port.
    const res = await httpsRequest(`https://127.0.0.1:${pebble.tlsAlpn01Port}/-/health/live`, {
      ca: pebble.issuedRootPem,
      servername: DOMAIN,
    });
    assert.equal(res.status, 200);
  });

  it('with two workers: one order, by one worker, served by both, and one renewal', async (t) => {
    const port = pebble.tlsAlpn01Port;
    const setup = await serverSetup({ env: { ...acmeEnv(port, 'off'), ACIHOST_WORKERS: '2' }, config: fastAcme });
    const child = spawn(process.execPath, [CLI, 'serve', '--config', setup.configFile], {
      env: { ...process.env, ...setup.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    t.after(async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await rm(setup.dir, { recursive: true, force: true });
    });
    const orders = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; worker?: number })
        .filter((l) => l.msg === 'ordering certificate');
    // New connections, dealt to both workers: each serves the one certificate.
    const servedByAll = async (not?: string) => {
      const seen = new Set<string>();
      // Refused until the first worker listens.
      for (let i = 0; i < 6; i++) seen.add((await issuedByPebble(port).catch(() => undefined))?.fingerprint256 ?? 'none');
      return seen.size === 1 && !seen.has('none') && !seen.has(not ?? '') ? [...seen][0] : undefined;
    };
    const first = await waitFor('the Pebble certificate from every worker', () => servedByAll(), 30_000);
    assert.deepEqual(
      orders().map((l) => l.worker),
      [0],
      'one order, by worker 0',
    );
    const renew = await setup.cli(['cert', 'renew']);
    assert.equal(renew.code, 0, renew.stderr);
    await waitFor('the renewed certificate from every worker', () => servedByAll(first), 30_000);
    assert.deepEqual(
      orders().map((l) => l.worker),
      [0, 0],
      'one renewal, by worker 0',
    );
  });

  it('refuses to start without agreement to the terms of service, and says how to agree', async () => {
    const env = { ...acmeEnv(await freePort(), 'off'), ACIHOST_ACME_AGREE_TOS: '' };
    const r = await runCli(['check-config'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tls\.acme\.agreeTos: .*terms of service.*ACIHOST_ACME_AGREE_TOS=true/);
  });
});
