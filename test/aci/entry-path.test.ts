import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pathSegments, showPath, symlinkEscapes } from '../../src/aci/entry-path.ts';
import { nestsDeeperThan } from '../../src/aci/json-depth.ts';

describe('entry paths', () => {
  test('pathSegments drops empty and "." segments but keeps ".."', () => {
    assert.deepEqual(pathSegments('./rootfs//etc/./x/'), ['rootfs', 'etc', 'x']);
    assert.deepEqual(pathSegments('.'), []);
    assert.deepEqual(pathSegments('rootfs/../x'), ['rootfs', '..', 'x']);
  });

  test('symlinkEscapes resolves relative targets from the link directory', () => {
    const at = (p: string) => p.split('/'); // segments below rootfs
    assert.equal(symlinkEscapes(at('bin/sh'), 'busybox'), false);
    assert.equal(symlinkEscapes(at('bin/sh'), '../usr/bin/busybox'), false);
    assert.equal(symlinkEscapes(at('bin/sh'), '../../etc/passwd'), true);
    assert.equal(symlinkEscapes(at('sh'), '..'), true);
    assert.equal(symlinkEscapes(at('sh'), '.'), false);
    assert.equal(symlinkEscapes(at('a/b/c'), 'x/../../..'), false);
    assert.equal(symlinkEscapes(at('a/b/c'), 'x/../../../..'), true);
    assert.equal(symlinkEscapes(at('a/b'), '../../x/..'), true); // leaves rootfs on the way
  });

  test('absolute symlink targets resolve inside the container and never escape', () => {
    assert.equal(symlinkEscapes(['sh'], '/bin/busybox'), false);
    assert.equal(symlinkEscapes(['sh'], '/../../../etc/shadow'), false);
  });

  test('showPath decodes UTF-8, escapes control characters and cuts long names', () => {
    const bytes = Buffer.from('rootfs/é\n').toString('latin1');
    assert.equal(showPath(bytes), '"rootfs/é\\n"');
    assert.ok(showPath('a'.repeat(5000)).length < 130);
  });
});

describe('JSON nesting depth', () => {
  test('counts arrays and objects, not brackets inside strings', () => {
    assert.equal(nestsDeeperThan('[[[]]]', 3), false);
    assert.equal(nestsDeeperThan('[[[[]]]]', 3), true);
    assert.equal(nestsDeeperThan('{"a":{"b":[1]}}', 3), false);
    assert.equal(nestsDeeperThan('{"a":{"b":[{}]}}', 3), true);
    assert.equal(nestsDeeperThan('["[[[[[[", "\\"[[[["]', 1), false);
  });

  test('handles a 100,000-deep document without recursion', () => {
    assert.equal(nestsDeeperThan('['.repeat(100_000) + ']'.repeat(100_000), 64), true);
  });
});
