/** Authenticating to a real registry: Basic (htpasswd) and Bearer tokens from a token service, with right and wrong credentials. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DistributionClient, type UpstreamCredentials } from '../../src/upstream/distribution-client.ts';
import { parseManifestDocument } from '../../src/upstream/manifest-document.ts';
import { isAcihostError } from '../../src/errors.ts';
import { buildSmallImage, pushLayout, startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.ts';

const SETTING = 'upstream.registries["test"].credentials';
const clients: DistributionClient[] = [];
after(() => clients.forEach((c) => c.close()));

function client(registry: UpstreamRegistry, credentials?: UpstreamCredentials): DistributionClient {
  const c = new DistributionClient({
    registry: registry.host,
    repository: 'team/private',
    ca: registry.caPem,
    ...(credentials === undefined ? {} : { credentials }),
    credentialsSetting: SETTING,
    timeouts: { connectMs: 5000, idleMs: 5000 },
    maxManifestBytes: 1 << 20,
    userAgent: 'acihost-test',
  });
  clients.push(c);
  return c;
}

async function pullWhole(c: DistributionClient): Promise<void> {
  const doc = parseManifestDocument(await c.manifest('1'));
  assert.equal(doc.kind, 'manifest');
  if (doc.kind !== 'manifest') return;
  for (const d of [doc.config, ...doc.layers]) {
    const hash = createHash('sha256');
    for await (const chunk of (await c.blob(d)) as Readable) hash.update(chunk as Buffer);
    assert.equal(`sha256:${hash.digest('hex')}`, d.digest);
  }
}

const authFailed = (pattern: RegExp) => (e: unknown) => {
  assert.ok(isAcihostError(e), String(e));
  assert.equal(e.code, 'UPSTREAM_AUTH_FAILED');
  assert.equal(e.kind, 'bad-gateway');
  assert.match(e.message, /upstream registry 127\.0\.0\.1:\d+, repository team\/private/);
  assert.ok(e.message.includes(SETTING), e.message);
  assert.match(e.message, pattern);
  return true;
};

async function startWithImage(opts: Parameters<typeof startUpstreamRegistry>[0]): Promise<UpstreamRegistry> {
  const registry = await startUpstreamRegistry(opts);
  const image = await buildSmallImage({ files: { 'etc/motd': 'private\n' } });
  await pushLayout(registry, image.layoutDir, image.tag, 'team/private:1', { format: 'oci' });
  return registry;
}

describe('basic auth', () => {
  let registry: UpstreamRegistry;
  before(async () => (registry = await startWithImage({ auth: 'basic' })));
  after(() => registry?.stop());

  test('the right credentials pull manifest and blobs', async () => {
    await pullWhole(client(registry, registry.credentials));
  });

  test('a wrong password is UPSTREAM_AUTH_FAILED naming the setting', async () => {
    await assert.rejects(
      client(registry, { ...registry.credentials!, password: 'wrong' }).manifest('1'),
      authFailed(/refused the credentials \(401\)/),
    );
  });

  test('no credentials: the registry asks for some', async () => {
    await assert.rejects(client(registry).manifest('1'), authFailed(/asks for a user name and password/));
  });
});

describe('token auth', () => {
  let registry: UpstreamRegistry;
  before(async () => (registry = await startWithImage({ auth: 'token' })));
  after(() => registry?.stop());

  test('the right credentials get a token for the pull scope, kept for later requests', async () => {
    const before = registry.issuedTokens.length;
    await pullWhole(client(registry, registry.credentials));
    const issued = registry.issuedTokens.slice(before);
    assert.deepEqual(issued, [{ username: registry.credentials!.username, scopes: ['repository:team/private:pull'] }]);
  });

  test('a wrong password is refused by the token service: UPSTREAM_AUTH_FAILED', async () => {
    await assert.rejects(
      client(registry, { ...registry.credentials!, password: 'wrong' }).manifest('1'),
      authFailed(/its token service https:\/\/127\.0\.0\.1:\d+ refused the credentials \(401\)/),
    );
  });

  test('anonymous: a token without access, so the registry refuses', async () => {
    await assert.rejects(client(registry).manifest('1'), authFailed(/refused anonymous access \(401\).*if the repository is private/));
  });
});

describe('token auth, public repositories', () => {
  let registry: UpstreamRegistry;
  before(async () => (registry = await startWithImage({ auth: 'token', anonymousPull: true })));
  after(() => registry?.stop());

  test('anonymous pulls with an anonymous token', async () => {
    const before = registry.issuedTokens.length;
    await pullWhole(client(registry));
    assert.deepEqual(registry.issuedTokens.slice(before), [{ username: undefined, scopes: ['repository:team/private:pull'] }]);
  });
});
