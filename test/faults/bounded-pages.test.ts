/** Discovery answers stay small whatever the catalogue (contracts.md: at most 100 names per page). */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serializeVersionRecord, type VersionRecord } from '../../src/registry/version-record.ts';
import { layout } from '../../src/storage/layout.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const NAMES = 10_000;

describe('bounded discovery pages', () => {
  let server: TestServer;

  before(async () => {
    const storage = await mkdtemp(join(tmpdir(), 'acihost-many-'));
    const writes: Promise<void>[] = [];
    for (let i = 0; i < NAMES; i++) {
      const record: VersionRecord = {
        name: `localhost/fleet/svc${i}`,
        version: '1.0.0',
        os: 'linux',
        arch: 'amd64',
        imageId: 'sha512-' + '0'.repeat(128),
        digest: '0'.repeat(64),
        size: 1,
        uncompressedSize: 1,
        compression: 'gzip',
        signature: '',
        signer: '0'.repeat(40),
        tokenId: 'seed',
        pushedAt: new Date(0).toISOString(),
        blob: `blobs/seed${i}.aci`,
      };
      const file = join(storage, layout.versionRecord(record));
      writes.push(mkdir(dirname(file), { recursive: true }).then(() => writeFile(file, serializeVersionRecord(record))));
    }
    await Promise.all(writes);
    server = await startTestServer({ env: { ACIHOST_STORAGE_DIR: storage } });
  });
  after(() => server?.close());

  it(`keeps the page under a path with ${NAMES} names, and the root page, under 64 KiB`, async () => {
    assert.equal(server.running.registry.catalog.size, NAMES);
    for (const path of ['/fleet?ac-discovery=1', '/?ac-discovery=1', '/']) {
      const res = await server.request(path);
      assert.equal(res.status, 200, path);
      assert.ok(res.body.length < 64 * 1024, `${path}: ${res.body.length} bytes`);
      assert.match(res.body.toString(), /<meta name="ac-discovery" content="localhost(\/fleet)? /);
    }
    const one = await server.request('/fleet/svc42?ac-discovery=1');
    assert.match(one.body.toString(), /content="localhost\/fleet\/svc42 /);
  });
});
