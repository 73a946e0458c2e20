import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { aciPath, MIRROR_PREFIX, startMirror, type MirrorFixture } from '../helpers/mirror-fixture.ts';
import { STANDARD_IMAGES, unpackImage } from '../helpers/oci-images.ts';
import { compareTrees, readAci, readDiskTree } from '../helpers/rootfs-oracle.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { acfetch } from '../helpers/trust.ts';
import { pushLayout } from '../helpers/upstream-registry.ts';

const run = promisify(execFile);

describe('pull-through: rkt fetch of a mirror name with nothing converted beforehand', () => {
  let f: MirrorFixture;
  let ca: string;
  const get = (path: string, headers: Record<string, string> = {}) => httpsRequest(f.setup.origin + path, { ca, headers });

  before(async () => {
    f = await startMirror();
    ca = await readFile(f.setup.caFile, 'utf8');
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.full, 'library/full:1.0', { format: 'v2s2' });
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/plain:2.0', { format: 'oci' });
  });
  after(async () => f?.close());

  it('discovery answers for a mapped name, and acfetch fetches and verifies it against the server key', async () => {
    const page = await get(`/mirror/library/full?ac-discovery=1`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /ac-discovery-pubkeys/);
    const fetched = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, [`${MIRROR_PREFIX}/full:1.0`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /^sha512-[0-9a-f]{128}$/m);
  });

  it('converts entry for entry what umoci unpack makes of the same image, and actool validates it', async () => {
    const res = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'));
    assert.equal(res.status, 200);
    const work = await tempDir('mirror-oracle-');
    const file = join(work, 'full.aci');
    await writeFile(file, res.body);
    await run('actool', ['validate', file]);
    const aci = await readAci(res.body);
    const expected = readDiskTree(unpackImage(f.layout, STANDARD_IMAGES.full, join(work, 'bundle')));
    assert.deepEqual(compareTrees(expected, aci.tree), []);
    const labels = Object.fromEntries((aci.manifest.labels as { name: string; value: string }[]).map((l) => [l.name, l.value]));
    assert.deepEqual(labels, { version: '1.0', os: 'linux', arch: 'amd64' });
    assert.equal(aci.manifest.name, `${MIRROR_PREFIX}/full`);
  });
});
