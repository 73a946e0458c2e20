import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, imageDomain, loadConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('configuration', () => {
  it('has embedded defaults: port 8443, https://localhost:8443, ./storage', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.server.port, 8443);
    assert.equal(c.server.publicUrl, 'https://localhost:8443');
    assert.equal(c.storage.dir, './storage');
    assert.equal(c.limits.maxCompressedBytes, 2 * 1024 ** 3);
    assert.equal(c.limits.maxUncompressedBytes, 8 * 1024 ** 3);
    assert.equal(imageDomain(c), 'localhost');
  });

  it('overlays a file, then the environment', async () => {
    const dir = await tempDir('acihost-config-');
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ server: { port: 9000, publicUrl: 'https://aci.example.com' }, log: { level: 'debug' } }));
    const c = loadConfig({
      file,
      env: {
        ACIHOST_PORT: '9443',
        ACIHOST_HOST: '::',
        ACIHOST_STORAGE_DIR: '/srv/aci',
        ACIHOST_TLS_CERT: '/c.pem',
        ACIHOST_TLS_KEY: '/k.pem',
        ACIHOST_LOG_LEVEL: 'warn',
      },
    });
    assert.equal(c.server.port, 9443);
    assert.equal(c.server.host, '::');
    assert.equal(c.server.publicUrl, 'https://aci.example.com');
    assert.equal(imageDomain(c), 'aci.example.com');
    assert.equal(c.storage.dir, '/srv/aci');
    assert.deepEqual([c.tls.cert, c.tls.key], ['/c.pem', '/k.pem']);
    assert.equal(c.log.level, 'warn');
    assert.equal(loadConfig({ env: { ACIHOST_PUBLIC_URL: 'https://img.example.org' } }).server.publicUrl, 'https://img.example.org');
  });

  it('bounds acpush sessions per token at 16 unless ACIHOST_MAX_UPLOAD_SESSIONS_PER_TOKEN says otherwise', () => {
    assert.equal(loadConfig({ env: {} }).limits.maxUploadSessionsPerToken, 16);
    assert.equal(loadConfig({ env: { ACIHOST_MAX_UPLOAD_SESSIONS_PER_TOKEN: '4' } }).limits.maxUploadSessionsPerToken, 4);
    assert.throws(() => loadConfig({ env: { ACIHOST_MAX_UPLOAD_SESSIONS_PER_TOKEN: '0' } }), /limits\.maxUploadSessionsPerToken/);
  });

  it('reports every problem with its path: unknown keys, bad values', async () => {
    const dir = await tempDir('acihost-config-');
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ server: { prot: 1 }, limits: { maxEntries: -1 }, tls: { cert: '/x.pem' } }));
    assert.throws(
      () => loadConfig({ file, env: { ACIHOST_PORT: 'eighty', ACIHOST_PUBLIC_URL: 'http://example.com/path' } }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const text = e.problems.join('\n');
        for (const path of ['server.prot: unknown key', 'server.port', 'server.publicUrl', 'limits.maxEntries', 'tls'])
          assert.match(text, new RegExp(path.replace('.', '\\.')));
        assert.match(text, /https/);
        return true;
      },
    );
  });

  it('limits each token to 4 concurrent uploads unless ACIHOST_MAX_CONCURRENT_UPLOADS_PER_TOKEN says otherwise', () => {
    assert.equal(loadConfig({ env: {} }).limits.maxConcurrentUploadsPerToken, 8);
    assert.equal(loadConfig({ env: { ACIHOST_MAX_CONCURRENT_UPLOADS_PER_TOKEN: '12' } }).limits.maxConcurrentUploadsPerToken, 12);
    assert.throws(() => loadConfig({ env: { ACIHOST_MAX_CONCURRENT_UPLOADS_PER_TOKEN: '0' } }), /limits\.maxConcurrentUploadsPerToken/);
  });

  it('acihost check-config exits 0 on a good file and non-zero with every problem on a bad one', async () => {
    const dir = await tempDir('acihost-config-');
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    await writeFile(good, JSON.stringify({ server: { port: 443 } }));
    await writeFile(bad, JSON.stringify({ storage: { dri: 'x' }, log: { level: 'loud' } }));
    const ok = await runCli(['check-config', '--config', good], {});
    assert.equal(ok.code, 0, ok.stderr);
    const ko = await runCli(['check-config', '--config', bad], {});
    assert.notEqual(ko.code, 0);
    assert.match(ko.stderr, /storage\.dri: unknown key; did you mean storage\.dir\?/);
    assert.match(ko.stderr, /log\.level/);
    const missing = await runCli(['check-config', '--config', join(dir, 'nope.json')], {});
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /cannot read file/);
  });
});
