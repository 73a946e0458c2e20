/**
 * An ACI made by the reference tool must pass. CI installs Debian's appc-spec
 * package for actool; a missing actool fails this test instead of skipping it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { publishLabels } from '../../src/aci/manifest.ts';
import { inspect } from './support.ts';

const work = mkdtempSync(join(tmpdir(), 'acihost-actool-'));
after(() => rmSync(work, { recursive: true, force: true }));

function imageDirectory(): string {
  const dir = join(work, 'image');
  mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
  mkdirSync(join(dir, 'rootfs/etc'), { recursive: true });
  const manifest = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'localhost/team/hello',
    labels: [
      { name: 'version', value: '0.0.1' },
      { name: 'os', value: 'linux' },
      { name: 'arch', value: 'amd64' },
    ],
    app: { exec: ['/bin/hello'], user: '0', group: '0', eventHandlers: null },
  };
  writeFileSync(join(dir, 'manifest'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'rootfs/bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  writeFileSync(join(dir, 'rootfs/etc/motd'), 'hi\n');
  linkSync(join(dir, 'rootfs/etc/motd'), join(dir, 'rootfs/etc/motd.hard'));
  symlinkSync('../etc/motd', join(dir, 'rootfs/bin/motd'));
  symlinkSync('/etc/motd', join(dir, 'rootfs/bin/motd-abs'));
  return dir;
}

test('an ACI built by `actool build --owner-root` passes the inspector', async () => {
  const found = spawnSync('sh', ['-c', 'command -v actool']).status === 0;
  assert.ok(found, 'actool is not installed: `apt-get install appc-spec` (CI installs it; this test must not be skipped)');
  const out = join(work, 'hello.aci');
  execFileSync('actool', ['build', '--owner-root', imageDirectory(), out]);
  const aci = readFileSync(out);
  const r = await inspect(aci);
  assert.equal(r.compression, 'gzip');
  assert.equal(r.manifest.name, 'localhost/team/hello');
  assert.equal(r.imageId, `sha512-${createHash('sha512').update(gunzipSync(aci)).digest('hex')}`);
  assert.deepEqual(publishLabels(r.manifest), { version: '0.0.1', os: 'linux', arch: 'amd64' });
  execFileSync('actool', ['validate', out]); // and the reference agrees it is valid
});
