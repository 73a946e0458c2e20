/**
 * A change made through the CLI (another process) is honoured at once by a push or
 * a key download that needs it, even before the server's next poll.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';

describe('state changed by another process', () => {
  let f: Fixture;
  before(async () => {
    f = await createFixture();
    // No background refresh at all: only the storage check on a miss can see the new key.
    f.server.running.registry.keys.mirror.stop();
  });
  after(() => f?.close());

  it('accepts a push signed by a key trusted moments ago, with a token made moments ago', async () => {
    const key = await f.gpg.genKey({ algo: 'rsa2048' });
    f.token = await f.createToken(['--prefix', 'localhost/fresh']);
    await f.trust(key, 'localhost/fresh');
    f.key = key;
    const res = await f.push({ name: 'localhost/fresh/app' });
    assert.equal(res.status, 201, res.raw);
    const served = await f.server.request(`/-/keys/${key.fingerprint}.asc`);
    assert.equal(served.status, 200);
  });
});
