/**
 * The README's hello world, run as a reader runs it: its shell block, unchanged, in bash, in
 * a fresh directory outside the checkout, against a real server. An `acihost` on the PATH
 * stands for the command `npm install -g .` installs (it runs this checkout's CLI), GNUPGHOME
 * and HOME are throw-away directories, and the variables the block itself reads (SERVER, CA,
 * ACIHOST_STORAGE_DIR) point it at the test server instead of their defaults.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { codeBlocks, readReadme, ROOT } from './markdown.ts';

const run = promisify(execFile);
const CLI = join(ROOT, 'src/cli.ts');

let server: TestServer;
let home: string;

before(async () => {
  server = await startTestServer();
  home = await mkdtemp(join(tmpdir(), 'acihost-hello-'));
});

after(async () => {
  await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: join(home, 'gnupg') } }).catch(() => {});
  await server?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

/** The Hello world section's shell blocks: the install lines, and the block a reader runs. */
function helloWorld(): { install: string; script: string } {
  const blocks = codeBlocks(readReadme()).filter((b) => b.section === 'Hello world' && b.lang === 'sh');
  const install = blocks.filter((b) => /\bnpm (install|link)\b/.test(b.body));
  const scripts = blocks.filter((b) => !install.includes(b));
  assert.equal(install.length, 1, 'the README has a "## Hello world" section whose first sh block installs the acihost command');
  assert.equal(scripts.length, 1, 'the Hello world section has one sh block to run');
  return { install: install[0]!.body, script: scripts[0]!.body };
}

test('the install lines link the command from the checkout, never through npx', () => {
  const { install } = helloWorld();
  assert.match(install, /npm install -g \./);
  assert.doesNotMatch(install, /\bnpx\b/);
});

test('the hello world runs from a directory outside the checkout, and the image it pushes is served', { timeout: 240_000 }, async () => {
  const { script } = helloWorld();
  for (const tool of [
    'actool build',
    'gpg --batch',
    'acihost key add',
    'acihost token create',
    '/-/push',
    'actool discover',
    'gpg --verify',
  ])
    assert.ok(script.includes(tool), `the hello world uses ${tool}`);
  assert.match(script, /cat > \S*manifest <<'?EOF'?/, 'the manifest is written with a heredoc');
  assert.match(script, /rsa\d{4}/, 'the signing key is RSA (rkt cannot load ed25519)');

  const bin = join(home, 'bin');
  const work = join(home, 'work');
  const gnupg = join(home, 'gnupg');
  await mkdir(bin);
  await mkdir(work);
  await mkdir(gnupg, { mode: 0o700 });
  const exports = Object.entries(server.env)
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  await writeFile(join(bin, 'acihost'), `#!/bin/sh\nexec env ${exports} '${process.execPath}' '${CLI}' "$@"\n`);
  await chmod(join(bin, 'acihost'), 0o755);
  await writeFile(join(home, 'hello.sh'), script + '\n');

  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: home,
    GNUPGHOME: gnupg,
    LC_ALL: 'C',
    CHECKOUT: join(home, 'no-checkout-here'),
    SERVER: server.origin,
    CA: server.caFile,
    ACIHOST_STORAGE_DIR: server.storageDir,
  };
  let stdout = '';
  let stderr = '';
  try {
    ({ stdout, stderr } = await run('bash', ['-eu', '-o', 'pipefail', join(home, 'hello.sh')], { cwd: work, env, timeout: 200_000 }));
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    assert.fail(`the hello world exited ${err.code}\n--- stdout\n${err.stdout}\n--- stderr\n${err.stderr}`);
  }

  const aciPath = '/-/aci/localhost/team/hello/1.0.0/linux/amd64.aci';
  assert.match(stdout, /"version":\s*"1\.0\.0"/, 'the push answered with the published image');
  assert.ok(stdout.includes(server.origin + aciPath), `actool discover listed the image's URL:\n${stdout}`);
  assert.match(stderr, /Good signature from "Hello signer/, `gpg verified the download:\n${stderr}`);
  const served = await server.request(aciPath);
  assert.equal(served.status, 200);
  assert.deepEqual(Buffer.from(served.body), await readFile(join(work, 'got.aci')));
  assert.deepEqual(Buffer.from(served.body), await readFile(join(work, 'hello.aci')), 'the server serves the bytes actool built');
});
