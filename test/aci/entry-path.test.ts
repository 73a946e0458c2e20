import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pathSegments, showPath } from '../../src/aci/entry-path.ts';
import { nestsDeeperThan } from '../../src/aci/json-depth.ts';

describe('entry paths', () => {
  test('pathSegments drops empty and "." segments but keeps ".."', () => {
    assert.deepEqual(pathSegments('./rootfs//etc/./x/'), ['rootfs', 'etc', 'x']);
    assert.deepEqual(pathSegments('.'), []);
    assert.deepEqual(pathSegments('rootfs/../x'), ['rootfs', '..', 'x']);
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
