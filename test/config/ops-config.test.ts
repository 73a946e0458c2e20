/**
 * The operations settings: TLS off, the plain-HTTP port, trusted proxies, ACME
 * and its refusals, each readable from the environment and checked strictly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { acmeDirectoryUrl } from '../../src/config/ops-schema.ts';
import { plainHttpPort } from '../../src/tls/tls-setup.ts';

const problems = (env: Record<string, string>, file?: string): string => {
  try {
    loadConfig({ env, file });
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.join('\n');
  }
  assert.fail('the configuration was accepted');
};

const ACME = {
  ACIHOST_PUBLIC_URL: 'https://aci.example.com',
  ACIHOST_ACME_DIRECTORY: 'letsencrypt',
  ACIHOST_ACME_AGREE_TOS: 'true',
  ACIHOST_ACME_EMAIL: 'ops@example.com',
};

describe('operations configuration', () => {
  it('has defaults: TLS on, no plain-HTTP port, no trusted proxy, 5 s + 30 s shutdown, open metrics', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.tls.enabled, true);
    assert.equal(c.tls.acme.directoryUrl, null);
    assert.equal(plainHttpPort(c), undefined);
    assert.deepEqual(c.server.trustProxy, []);
    assert.equal(c.server.shutdownDelaySeconds, 5);
    assert.equal(c.server.shutdownGraceSeconds, 30);
    assert.equal(c.metrics.requireToken, false);
  });

  it('reads ACIHOST_TLS, ACIHOST_HTTP_PORT and ACIHOST_TRUST_PROXY', () => {
    const c = loadConfig({ env: { ACIHOST_TLS: 'off', ACIHOST_HTTP_PORT: '8080', ACIHOST_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' } });
    assert.equal(c.tls.enabled, false);
    assert.equal(plainHttpPort(c), 8080);
    assert.deepEqual(c.server.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
    assert.match(problems({ ACIHOST_TLS: 'no' }), /tls\.enabled/);
    assert.match(problems({ ACIHOST_TRUST_PROXY: 'proxy.example.com' }), /server\.trustProxy\.0: must be an IP address or CIDR/);
  });

  it('turns ACME on with one variable, opens port 80 for HTTP-01 unless told otherwise, and knows Let’s Encrypt by name', () => {
    const c = loadConfig({ env: ACME });
    assert.equal(acmeDirectoryUrl(c.tls.acme.directoryUrl!), 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(c.tls.acme.email, 'ops@example.com');
    assert.equal(plainHttpPort(c), 80);
    assert.equal(plainHttpPort(loadConfig({ env: { ...ACME, ACIHOST_HTTP_PORT: 'off' } })), undefined);
    assert.equal(loadConfig({ env: { ...ACME, ACIHOST_ACME_CA_FILE: '/etc/ca.pem' } }).tls.acme.caFile, '/etc/ca.pem');
  });

  it('refuses ACME without agreement to the terms, for a name that is not public, with TLS off or with certificate files', () => {
    assert.match(problems({ ...ACME, ACIHOST_ACME_AGREE_TOS: 'false' }), /tls\.acme\.agreeTos: .*ACIHOST_ACME_AGREE_TOS=true/);
    assert.match(problems({ ...ACME, ACIHOST_PUBLIC_URL: 'https://localhost:8443' }), /server\.publicUrl: ACME .*localhost is not one/);
    assert.match(problems({ ...ACME, ACIHOST_PUBLIC_URL: 'https://192.0.2.1' }), /server\.publicUrl: ACME/);
    assert.match(problems({ ...ACME, ACIHOST_TLS: 'off' }), /tls\.enabled: ACME needs TLS on/);
    assert.match(problems({ ...ACME, ACIHOST_TLS_CERT: '/c.pem', ACIHOST_TLS_KEY: '/k.pem' }), /either tls\.acme or tls\.cert/);
    assert.match(problems({ ...ACME, ACIHOST_ACME_DIRECTORY: 'not a url' }), /tls\.acme\.directoryUrl/);
  });
});
