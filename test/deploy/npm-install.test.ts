/**
 * The documented install, `npm ci`, with the system's npm on the system's Node
 * (older than the project's on many machines: npm ci installs Node 24 itself), in a
 * copy of the project's package files: no engine warnings. A dry run: the npm cache
 * holds the packages, so it takes about a second.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
// The PATH of a shell outside the project: without node_modules/.bin, whose Node is the project's.
const SYSTEM_PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((p) => !p.includes('node_modules'))
  .join(delimiter);

async function npmCi(args: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-npm-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) await copyFile(join(ROOT, f), join(dir, f));
    await copyFile(join(ROOT, '.npmrc'), join(dir, '.npmrc')).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: SYSTEM_PATH };
    for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k]; // not the settings of an npm running this test
    const { stdout, stderr } = await run('npm', ['ci', '--dry-run', ...args], { cwd: dir, env });
    // The lines npm adds per package say nothing here.
    return (stdout + stderr)
      .split('\n')
      .filter((l) => !l.startsWith('add '))
      .join('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('npm ci', () => {
  it('prints no engine warnings, whatever Node the system npm runs on', async () => {
    const { stdout: version } = await run('node', ['--version'], { env: { ...process.env, PATH: SYSTEM_PATH } });
    const output = await npmCi([]);
    assert.match(output, /added \d+ packages/, output);
    assert.doesNotMatch(output, /EBADENGINE|EBADDEVENGINES|npm warn/, `system Node ${version.trim()}: ${output}`);
  });

  it("does not judge the project's own engines by the Node npm runs on", async () => {
    // devEngines makes npm skip the root's engines check: the Node that runs acihost comes from npm ci.
    const output = await npmCi(['--loglevel=warn']);
    assert.doesNotMatch(output, /package: 'acihost@/, output);
  });
});

describe('the installed command on the system Node', () => {
  it('refuses a Node older than 22 in one line that says what to do, and runs on a newer one', async () => {
    // dist/ is built by the test set-up (pretest), as a global install links it.
    const env = { ...process.env, PATH: SYSTEM_PATH };
    const version = (await run('node', ['--version'], { env })).stdout.trim();
    const result = await run('node', [join(ROOT, 'dist/cli.js'), '--version'], { env }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    if (Number(version.slice(1).split('.')[0]) < 22) {
      assert.equal(result.code, 2, `system Node ${version}: ${result.stderr}`);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^acihost: needs Node 22 or newer, and this is v\d+.*node_modules\/\.bin first on your PATH/);
    } else {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^acihost \d+\.\d+\.\d+/);
    }
  });
});
