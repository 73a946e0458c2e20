/**
 * Configuration mistakes as the operator meets them: one line naming the variable and
 * its value, no stack trace; a misspelt ACIHOST_ variable fails check-config and is a
 * warning, once, for serve and the other commands.
 */
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, serverSetup, spawnServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TYPO = 'ACIHOST_PORTT: not a variable acihost reads; did you mean ACIHOST_PORT? (every variable: docs/configuration.md)';

const count = (text: string, part: string): number => text.split(part).length - 1;

describe('configuration mistakes on the command line', () => {
  it('a public URL without its scheme is one line naming the variable, not a TypeError', async () => {
    const r = await runCli(['check-config'], { ACIHOST_PUBLIC_URL: 'aci.example.com' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      'acihost: invalid configuration:\n  server.publicUrl: must start with https://, such as https://aci.example.com (from ACIHOST_PUBLIC_URL="aci.example.com")\n',
    );
  });

  it('a port that is not a number names ACIHOST_PORT, the value and the range', async () => {
    const r = await runCli(['check-config'], { ACIHOST_PORT: 'abc' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^ {2}server\.port: expected integer from 0 to 65535 \(from ACIHOST_PORT="abc"\)$/m);
  });

  it('check-config fails on an ACIHOST_ variable nothing reads, naming the closest one', async () => {
    const r = await runCli(['check-config'], { ACIHOST_PORTT: '1' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `acihost: invalid configuration:\n  ${TYPO}\n`);
    const json = await runCli(['check-config', '--json'], { ACIHOST_PORTT: '1' });
    assert.equal(json.code, 2);
    assert.deepEqual(JSON.parse(json.stdout), { valid: false, problems: [TYPO] });
  });

  it('a command run away from any storage says so, and works on the storage it is pointed at', async () => {
    const dir = await tempDir('acihost-nowhere-');
    const lost = await runCli(['token', 'list'], { ACIHOST_STORAGE_DIR: join(dir, 'storage') });
    assert.equal(lost.code, 0, lost.stderr);
    assert.match(lost.stderr, /^acihost: warning: no storage at .*\/storage; to work on a server's, .*ACIHOST_STORAGE_DIR/m);
    // The first command made it: the next one finds it and has nothing to warn about.
    assert.equal((await runCli(['token', 'create', '--prefix', 'localhost/team'], { ACIHOST_STORAGE_DIR: join(dir, 'storage') })).code, 0);
    const found = await runCli(['token', 'list'], { ACIHOST_STORAGE_DIR: join(dir, 'storage') });
    assert.doesNotMatch(found.stderr, /no storage at/);
  });

  it('other commands warn about it once on stderr and go on', async () => {
    const dir = await tempDir('acihost-typo-');
    const r = await runCli(['key', 'list'], { ACIHOST_PORTT: '1', ACIHOST_STORAGE_DIR: join(dir, 'storage') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(count(r.stderr, TYPO), 1, r.stderr);
    assert.match(r.stderr, /^acihost: warning: ACIHOST_PORTT: /);
  });

  it('serve warns about it once and serves', async () => {
    const server = await spawnServer(await serverSetup({ env: { ACIHOST_PORTT: '1', ACIHOST_LOG_LEVEL: 'silent' } }));
    try {
      assert.equal(count(server.stderr(), TYPO), 1, server.stderr());
    } finally {
      await server.stop();
    }
  });
});
