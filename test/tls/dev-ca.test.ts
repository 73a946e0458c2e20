import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devCertPaths, ensureDevCertificates } from '../../src/tls/dev-ca.ts';
import { issueServerCertificate } from '../../src/tls/issue.ts';

const run = promisify(execFile);

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'certs');
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const read = (path: string): Promise<string> => readFile(path, 'utf8');

test('first call writes a CA, a server certificate and their keys with tight modes', async (t) => {
  const dir = await tempDir(t);
  const result = await ensureDevCertificates(dir);
  const paths = devCertPaths(dir);
  assert.equal(result.created, true);
  assert.deepEqual(
    { caCert: result.caCert, cert: result.cert, key: result.key },
    {
      caCert: paths.caCert,
      cert: paths.cert,
      key: paths.key,
    },
  );
  assert.equal(await mode(paths.key), 0o600);
  assert.equal(await mode(paths.caKey), 0o600);
  assert.equal((await mode(paths.caCert)) & 0o600, 0o600);
  assert.deepEqual((await readdir(dir)).sort(), ['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);
});

test('the CA is a 10-year CA and the server certificate fits browser limits', async (t) => {
  const dir = await tempDir(t);
  const { caCert, cert } = await ensureDevCertificates(dir);
  const ca = new X509Certificate(await read(caCert));
  const server = new X509Certificate(await read(cert));
  assert.equal(ca.ca, true);
  assert.match(ca.subject, /CN=acihost development CA/);
  const days = (c: X509Certificate): number => (c.validToDate.getTime() - c.validFromDate.getTime()) / 86_400_000;
  assert.equal(Math.round(days(ca)), 3650);
  assert.ok(days(server) <= 825 && days(server) > 800);
  assert.equal(server.ca, false);
  assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']); // node reports the EKU here
  const text = (await run('openssl', ['x509', '-noout', '-text', '-in', caCert])).stdout;
  assert.match(text, /Certificate Sign, CRL Sign/);
  assert.match(text, /CA:TRUE/);
});

test('openssl verifies the server certificate against ca.pem and sees IP SANs', async (t) => {
  const dir = await tempDir(t);
  const { caCert, cert } = await ensureDevCertificates(dir);
  const verify = await run('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', caCert, cert]);
  assert.match(verify.stdout, /: OK/);
  const san = (await run('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', cert])).stdout;
  assert.match(san, /DNS:localhost/);
  assert.match(san, /IP Address:127\.0\.0\.1/);
  assert.match(san, /IP Address:0:0:0:0:0:0:0:1/);
  assert.doesNotMatch(san, /DNS:127|DNS:::1/);
});

test('later calls reuse the files unchanged', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  const before = await Promise.all(Object.values(paths).map(read));
  const again = await ensureDevCertificates(dir, { hosts: ['::1', 'LOCALHOST', '127.0.0.1'] });
  assert.equal(again.created, false);
  assert.deepEqual(await Promise.all(Object.values(paths).map(read)), before);
});

test('a change of hosts re-issues the server certificate under the same CA', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  const ca = await read(paths.caCert);
  const oldCert = await read(paths.cert);
  const result = await ensureDevCertificates(dir, { hosts: ['localhost', 'aci.test', '10.0.0.7'] });
  assert.equal(result.created, true);
  assert.equal(await read(paths.caCert), ca);
  assert.notEqual(await read(paths.cert), oldCert);
  const server = new X509Certificate(await read(paths.cert));
  assert.equal(server.checkHost('aci.test'), 'aci.test');
  assert.equal(server.checkIP('10.0.0.7'), '10.0.0.7');
  assert.equal(server.checkIP('127.0.0.1'), undefined);
  await run('openssl', ['verify', '-CAfile', paths.caCert, paths.cert]);
});

test('a server certificate within 30 days of expiry is re-issued', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  const ca = { certPem: await read(paths.caCert), keyPem: await read(paths.caKey) };
  const shortLived = await issueServerCertificate(ca, ['localhost', '127.0.0.1', '::1'], { validityDays: 20 });
  await writeFile(paths.cert, shortLived.certPem);
  await writeFile(paths.key, shortLived.keyPem, { mode: 0o600 });
  const result = await ensureDevCertificates(dir);
  assert.equal(result.created, true);
  const renewed = new X509Certificate(await read(paths.cert));
  assert.ok(renewed.validToDate.getTime() - Date.now() > 800 * 86_400_000);
  assert.equal(await read(paths.caCert), ca.certPem);
});

test('a key that does not match its certificate (a crash between renames) is replaced', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  const ca = { certPem: await read(paths.caCert), keyPem: await read(paths.caKey) };
  const other = await issueServerCertificate(ca, ['localhost']);
  await writeFile(paths.key, other.keyPem); // new key renamed, new certificate not yet
  assert.equal((await ensureDevCertificates(dir)).created, true);
  const cert = new X509Certificate(await read(paths.cert));
  const { createPrivateKey } = await import('node:crypto');
  assert.ok(cert.checkPrivateKey(createPrivateKey(await read(paths.key))));
});

test('a missing CA key regenerates the CA and the server certificate', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  const oldCa = await read(paths.caCert);
  await rm(paths.caKey);
  assert.equal((await ensureDevCertificates(dir)).created, true);
  assert.notEqual(await read(paths.caCert), oldCa);
  await run('openssl', ['verify', '-CAfile', paths.caCert, paths.cert]);
});

test('loose key modes are narrowed and stale temp files removed', async (t) => {
  const dir = await tempDir(t);
  const paths = devCertPaths(dir);
  await ensureDevCertificates(dir);
  await chmod(paths.key, 0o644);
  const stale = `${paths.key}.0123456789ab.tmp`;
  await writeFile(stale, '-----BEGIN PRIV');
  const { utimes } = await import('node:fs/promises');
  await utimes(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  assert.equal((await ensureDevCertificates(dir)).created, false);
  assert.equal(await mode(paths.key), 0o600);
  assert.deepEqual((await readdir(dir)).sort(), ['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);
});

test('invalid hosts are rejected before anything is written', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(ensureDevCertificates(dir, { hosts: [] }), TypeError);
  await assert.rejects(ensureDevCertificates(dir, { hosts: ['bad host'] }), TypeError);
  await assert.rejects(ensureDevCertificates(dir, { hosts: ['fe80::1%eth0'] }), TypeError);
  await assert.rejects(stat(dir), { code: 'ENOENT' });
});
