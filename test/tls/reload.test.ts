/**
 * Certificate files are reloaded without dropping connections: on SIGHUP to a
 * real `acihost serve` while a download is in progress (the download keeps its
 * handshake and completes), and when the files change on disk. A bad new
 * certificate is refused with a log line and the old one stays in use.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueServerCertificate, type PemPair } from '../../src/tls/issue.ts';
import { servedCertificate, startServerProcess, startTestServer, waitFor } from '../helpers/server.ts';

const HOSTS = ['localhost', '127.0.0.1'];

async function certificateFiles() {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-certs-'));
  const ca = await createCertificateAuthority();
  const files = { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
  await writeFile(files.ca, ca.certPem);
  // As certbot renews: the key first, then the certificate.
  const install = async (pair: PemPair) => {
    await writeFile(files.key, pair.keyPem);
    await writeFile(files.cert, pair.certPem);
  };
  const issue = (opts = {}) => issueServerCertificate(ca, HOSTS, opts);
  return { files, install, issue, caPem: ca.certPem };
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

interface Downloaded {
  sha256: string;
  bytes: number;
  peer: string;
}

/** Starts a GET whose body is read slowly until finish(); resolves the body's sha256 and the certificate that connection got. */
function slowDownload(url: string, ca: string): { started: Promise<void>; finish(): Promise<Downloaded> } {
  let fast = false;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<Downloaded>((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256;
      const hash = createHash('sha256');
      let bytes = 0;
      markStarted();
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (fast) return;
        res.pause();
        setTimeout(() => res.resume(), 15);
      });
      res.on('end', () => resolve({ sha256: hash.digest('hex'), bytes, peer }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  return { started: Promise.race([started, done.then(() => {})]), finish: () => ((fast = true), done) };
}

describe('certificate reload', () => {
  it('SIGHUP swaps the certificate while a download is in progress; the download completes; a bad one is refused', async (t) => {
    const certs = await certificateFiles();
    const [a, b] = [await certs.issue(), await certs.issue()];
    await certs.install(a);
    const server = await startServerProcess({
      env: { ACIHOST_TLS_CERT: certs.files.cert, ACIHOST_TLS_KEY: certs.files.key },
      // No polling during this test: only the signal reloads.
      config: { tls: { watchIntervalMs: 3_600_000 } },
      caFile: certs.files.ca,
    });
    t.after(async () => {
      await server.close();
      await rm(certs.files.dir, { recursive: true, force: true });
    });
    const image = await server.makeImage('1.0.0', 4_000_000);
    const pushed = await server.push(image);
    assert.equal(pushed.status, 201, pushed.raw);
    const expected = createHash('sha256')
      .update(await readFile(image.aci))
      .digest('hex');

    const download = slowDownload(`${server.origin}/-/aci/localhost/app/1.0.0/linux/amd64.aci`, certs.caPem);
    await download.started;
    await certs.install(b);
    server.proc.child.kill('SIGHUP');
    await waitFor('the new certificate', async () =>
      (await servedCertificate(server.port, 'localhost')).fingerprint256 === fingerprint(b.certPem) ? true : undefined,
    );
    const result = await download.finish();
    assert.equal(result.sha256, expected, 'the download completed intact');
    assert.equal(result.peer, fingerprint(a.certPem), 'the open connection kept its handshake');

    // A certificate whose key is another one's: refused, the current one stays.
    const c = await certs.issue();
    await writeFile(certs.files.cert, c.certPem);
    server.proc.child.kill('SIGHUP');
    await waitFor('the refusal in the log', () => (/refused new certificate/.test(server.proc.stderr()) ? true : undefined));
    assert.match(server.proc.stderr(), /the private key does not belong to the certificate/);
    assert.equal((await servedCertificate(server.port, 'localhost')).fingerprint256, fingerprint(b.certPem));
    assert.equal(server.proc.child.exitCode, null, 'still running');
  });

  it('reloads when the files change on disk, and keeps the old certificate when the new one has expired', async (t) => {
    const certs = await certificateFiles();
    const [a, b] = [await certs.issue(), await certs.issue()];
    await certs.install(a);
    const server = await startTestServer({
      logs: true,
      env: { ACIHOST_TLS_CERT: certs.files.cert, ACIHOST_TLS_KEY: certs.files.key },
      config: { tls: { watchIntervalMs: 100 } },
    });
    const { port } = server;
    t.after(async () => {
      await server.close();
      await rm(certs.files.dir, { recursive: true, force: true });
    });
    assert.equal((await servedCertificate(port, 'localhost')).fingerprint256, fingerprint(a.certPem));
    await certs.install(b);
    await waitFor('the changed files to be served', async () =>
      (await servedCertificate(port, 'localhost')).fingerprint256 === fingerprint(b.certPem) ? true : undefined,
    );
    const expired = await certs.issue({ now: new Date(Date.now() - 10 * 86_400_000), validityDays: 2 });
    await certs.install(expired);
    await waitFor('the refusal', () =>
      server.logs.find((l) => l.msg === 'refused new certificate; the previous one stays in use' && /expired/.test(l.err)),
    );
    assert.equal((await servedCertificate(port, 'localhost')).fingerprint256, fingerprint(b.certPem));
    const info = await server.cli(['cert', 'info']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^source: +files$/m);
    assert.match(info.stdout, /^not after: .*days left\)$/m);
  });
});
