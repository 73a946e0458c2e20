import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AC_NAME, assertPublishableVersion, isAcIdentifier, isValidOsArch, prefixCovers, VERSION_PATTERN } from '../../src/names.ts';
import { rejectsWith } from './support.ts';

describe('AC identifiers and names', () => {
  test('accepts appc identifiers', () => {
    for (const s of ['example.com/app', 'localhost/team/app', 'coreos.com/etcd', 'a', 'a-b.c_d~e/f', '0x']) {
      assert.ok(isAcIdentifier(s), s);
    }
  });

  test('refuses uppercase, colons, doubled or edge separators', () => {
    for (const s of ['', 'Example.com/app', 'host:443/app', 'a//b', 'a--b', '/a', 'a/', '-a', 'a_', 'a b']) {
      assert.ok(!isAcIdentifier(s), s);
    }
  });

  test('AC names allow only single dashes between lowercase words', () => {
    assert.ok(AC_NAME.test('http-alt'));
    assert.ok(!AC_NAME.test('http.alt'));
    assert.ok(!AC_NAME.test('http/alt'));
    assert.ok(!AC_NAME.test('Http'));
  });
});

describe('prefixCovers', () => {
  test('covers itself and names below it', () => {
    assert.ok(prefixCovers('localhost/team', 'localhost/team'));
    assert.ok(prefixCovers('localhost/team', 'localhost/team/app'));
    assert.ok(prefixCovers('localhost', 'localhost/team/app'));
  });

  test('is segment-aligned, unlike appc HasPrefix', () => {
    assert.ok(!prefixCovers('localhost/team', 'localhost/teamx'));
    assert.ok(!prefixCovers('localhost/team', 'localhost/tea'));
    assert.ok(!prefixCovers('localhost/team/app', 'localhost/team'));
  });

  test('a trailing slash changes nothing; an empty prefix covers nothing', () => {
    assert.ok(prefixCovers('localhost/team/', 'localhost/team/app'));
    assert.ok(!prefixCovers('localhost/team/', 'localhost/teamx'));
    assert.ok(!prefixCovers('', 'localhost'));
  });
});

describe('isValidOsArch', () => {
  test('accepts the appc table', () => {
    const table: Record<string, string[]> = {
      linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
      freebsd: ['amd64', 'i386', 'arm'],
      darwin: ['x86_64', 'i386'],
    };
    for (const [os, archs] of Object.entries(table)) for (const a of archs) assert.ok(isValidOsArch(os, a), `${os}/${a}`);
  });

  test('refuses Go names, cross-os pairs and prototype keys', () => {
    for (const [os, arch] of [
      ['linux', 'x86_64'],
      ['linux', 'arm64'],
      ['linux', '386'],
      ['darwin', 'amd64'],
      ['freebsd', 'aarch64'],
      ['windows', 'amd64'],
      ['constructor', 'amd64'],
      ['__proto__', 'amd64'],
      ['Linux', 'amd64'],
    ]) {
      assert.ok(!isValidOsArch(os!, arch!), `${os}/${arch}`);
    }
  });
});

describe('publishable versions', () => {
  test('accepts URL-safe versions', () => {
    for (const v of ['1.0.0', 'v0.0.1', '1.0.0-rc.1', '1.0+b1', '2024.01.31', 'a~b_c', 'x'.repeat(128)]) {
      assert.ok(VERSION_PATTERN.test(v), v);
      assert.doesNotThrow(() => assertPublishableVersion(v));
    }
  });

  test('refuses characters that break a URL path segment', async () => {
    for (const v of ['', '.', '..', '.hidden', '1/2', '1.0 beta', '1%2F', '1?x', '-1', 'é']) {
      await rejectsWith(
        Promise.resolve().then(() => assertPublishableVersion(v)),
        'VERSION_INVALID',
        'invalid',
      );
    }
  });

  test('refuses a version longer than storage keys allow, naming the limit', async () => {
    const e = await rejectsWith(
      Promise.resolve().then(() => assertPublishableVersion('x'.repeat(129))),
      'LABEL_TOO_LONG',
      'invalid',
    );
    assert.match(e.message, /at most 128 bytes/);
  });

  test('refuses "latest", which the server resolves itself', async () => {
    const e = await rejectsWith(
      Promise.resolve().then(() => assertPublishableVersion('latest')),
      'VERSION_RESERVED',
    );
    assert.match(e.message, /latest/);
  });
});
