/** Discovery answers stay small whatever the catalogue: at most 100 names per page (docs/http-api.md#discovery-and-files). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seedRecords, versionRecord } from '../helpers/records.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NAMES = 10_000;

describe('bounded discovery pages', () => {
  let server: TestServer;

  before(async () => {
    const storage = await tempDir('acihost-many-');
    await seedRecords(
      storage,
      Array.from({ length: NAMES }, (_, i) => versionRecord(`localhost/fleet/svc${i}`, {}, i)),
    );
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
