/** The verify check on a schedule inside a running server, with its results in /-/metrics. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { eventually } from '../helpers/trust.ts';

describe('scheduled verification inside the server', () => {
  let f: Fixture;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team', config: { verify: { intervalSeconds: 1 } } });
    for (const version of ['1.0.0', '2.0.0']) {
      const res = await f.push({ name: 'localhost/team/app', version });
      assert.equal(res.status, 201, res.raw);
    }
  });
  after(async () => f?.close());

  const metrics = async () => (await f.server.request('/-/metrics')).body.toString();
  const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  it('reports a clean store: every image checked, none failed', async () => {
    const text = await eventually(metrics, (t) => gauge(t, 'acihost_verify_images') === 2, 5000);
    assert.equal(gauge(text, 'acihost_verify_images'), 2, text);
    assert.equal(gauge(text, 'acihost_verify_failed_images'), 0);
    assert.ok(gauge(text, 'acihost_verify_last_run_timestamp_seconds') > Date.now() / 1000 - 60);
  });

  it('counts a flipped byte by problem code at the next run', async () => {
    const record = JSON.parse(await readFile(join(f.server.storageDir, 'images/localhost/team/app/_v/linux-amd64/1.0.0.json'), 'utf8'));
    const blob = join(f.server.storageDir, record.blob);
    const bytes = await readFile(blob);
    bytes[bytes.length - 10]! ^= 0xff;
    await writeFile(blob, bytes);
    const text = await eventually(metrics, (t) => gauge(t, 'acihost_verify_failed_images') === 1, 5000);
    assert.equal(gauge(text, 'acihost_verify_failed_images'), 1, text);
    assert.equal(gauge(text, 'acihost_verify_images'), 2);
    assert.match(text, /^acihost_verify_problems\{code="IMAGE_DIGEST_MISMATCH"\} 1$/m);
  });
});
