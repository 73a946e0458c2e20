/** mirrors.upstreams: the allow-list read both ways, and the mistakes that would fetch the wrong thing or nothing. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { AllowList } from '../../src/registry/mirror/allow-list.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function configFile(content: unknown): Promise<string> {
  const file = join(await tempDir('acihost-mirrors-'), 'c.json');
  await writeFile(file, JSON.stringify(content));
  return file;
}

describe('configuration: mirrors', () => {
  it('refuses an upstream rule that could not work, naming its path', async () => {
    const rule = { source: 'docker.example.com/library/*', prefix: 'localhost/mirror' };
    const cases: [unknown, RegExp][] = [
      [{ ...rule, prefix: 'aci.example.com/mirror' }, /mirrors\.upstreams\.0\.prefix: must be localhost or a prefix under it/],
      [{ ...rule, source: 'https://docker.example.com/library' }, /mirrors\.upstreams\.0\.source: must be an upstream repository/],
      [{ ...rule, source: 'docker.example.com/Library/*' }, /mirrors\.upstreams\.0\.source/],
      [{ ...rule, source: 'docker.example.com/a/*/b' }, /mirrors\.upstreams\.0\.source/],
      [{ ...rule, username: 'ci' }, /mirrors\.upstreams\.0\.username: with username, needs exactly one of passwordFile and passwordEnv/],
      [{ ...rule, username: 'ci', passwordFile: '/p', passwordEnv: 'P' }, /exactly one of passwordFile and passwordEnv/],
      [{ ...rule, passwordEnv: 'P' }, /mirrors\.upstreams\.0\.username: a password needs a username/],
      [{ ...rule, insecure: true }, /mirrors\.upstreams\.0\.insecure: unknown key/],
    ];
    for (const [upstream, message] of cases) {
      const file = await configFile({ mirrors: { upstreams: [upstream] } });
      assert.throws(
        () => loadConfig({ file, env: {} }),
        (e: unknown) => e instanceof ConfigError && message.test(e.problems.join('\n')),
        JSON.stringify(upstream),
      );
    }
  });

  it('maps upstream repositories to names and names back, and nothing else', () => {
    const allow = new AllowList([
      { source: 'docker.example.com/library/*', prefix: 'localhost/mirror/library' },
      { source: 'registry.example.com:5000/team/app', prefix: 'localhost/team/app', pullThrough: false },
      { source: 'quay.example.com/*', prefix: 'localhost/quay' },
    ]);
    const name = (registry: string, repository: string) => allow.forUpstream({ registry, repository })?.name;
    assert.equal(name('docker.example.com', 'library/alpine'), 'localhost/mirror/library/alpine');
    assert.equal(name('docker.example.com', 'library/team/tool'), 'localhost/mirror/library/team/tool');
    assert.equal(name('docker.example.com', 'library'), undefined);
    assert.equal(name('docker.example.com', 'libraryx/alpine'), undefined);
    assert.equal(name('docker.example.com', 'other/alpine'), undefined);
    assert.equal(name('evil.example.com', 'library/alpine'), undefined);
    assert.equal(name('registry.example.com:5000', 'team/app'), 'localhost/team/app');
    assert.equal(name('registry.example.com:5000', 'team/app/sub'), undefined);
    assert.equal(name('registry.example.com', 'team/app'), undefined);
    assert.equal(name('quay.example.com', 'org/repo'), 'localhost/quay/org/repo');
    const upstream = (n: string) => {
      const m = allow.forName(n);
      return m && `${m.registry}/${m.repository}`;
    };
    assert.equal(upstream('localhost/mirror/library/alpine'), 'docker.example.com/library/alpine');
    assert.equal(upstream('localhost/mirror/library'), undefined);
    assert.equal(upstream('localhost/mirror/libraryx'), undefined);
    // Not pulled through: converted only when asked for by name.
    assert.equal(upstream('localhost/team/app'), undefined);
    assert.equal(upstream('localhost/quay/org/repo'), 'quay.example.com/org/repo');
    assert.equal(allow.coversName('localhost/quay/org/repo'), true);
    assert.equal(allow.coversName('localhost/elsewhere'), false);
  });
});
