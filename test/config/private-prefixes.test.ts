/** access.privatePrefixes: defaults, file and environment, and the mistakes that would leave names public. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function configFile(content: unknown): Promise<string> {
  const file = join(await tempDir('acihost-access-'), 'c.json');
  await writeFile(file, JSON.stringify(content));
  return file;
}

describe('configuration: private prefixes', () => {
  it('makes nothing private by default', () => {
    assert.deepEqual(loadConfig({ env: {} }).access.privatePrefixes, []);
  });

  it('reads them from a file, or comma-separated from ACIHOST_PRIVATE_PREFIXES', async () => {
    const file = await configFile({ access: { privatePrefixes: ['localhost/secret'] } });
    assert.deepEqual(loadConfig({ file, env: {} }).access.privatePrefixes, ['localhost/secret']);
    const env = { ACIHOST_PRIVATE_PREFIXES: 'localhost/a, localhost/b/c' };
    assert.deepEqual(loadConfig({ file, env }).access.privatePrefixes, ['localhost/a', 'localhost/b/c']);
  });

  it('refuses a prefix that is not a name, or lies outside the image domain, naming its path', async () => {
    const cases: [unknown, RegExp][] = [
      [{ access: { privatePrefixes: ['Team/App'] } }, /access\.privatePrefixes\.0: must be an image name prefix/],
      [
        { access: { privatePrefixes: ['localhost/ok', 'aci.example.con/team'] } },
        /access\.privatePrefixes\.1: must be localhost or a prefix under it/,
      ],
      [{ access: { privatePrefixes: ['localhost'], public: true } }, /access\.public: unknown key/],
    ];
    for (const [content, message] of cases) {
      const file = await configFile(content);
      assert.throws(
        () => loadConfig({ file, env: {} }),
        (e: unknown) => e instanceof ConfigError && message.test(e.problems.join('\n')),
        JSON.stringify(content),
      );
    }
  });
});
