import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NameSet } from '../../src/aci/name-set.ts';

describe('NameSet', () => {
  test('add reports whether a name is new, and remembers its kind', () => {
    const set = new NameSet();
    assert.equal(set.add('rootfs/etc', 'directory'), true);
    assert.equal(set.add('rootfs/etc/hello', 'other'), true);
    assert.equal(set.add('rootfs/etc', 'other'), false);
    assert.equal(set.kindOf('rootfs/etc'), 'directory');
    assert.equal(set.kindOf('rootfs/etc/hello'), 'other');
    assert.equal(set.kindOf('rootfs/etc/hell'), undefined);
    assert.equal(set.size, 2);
  });

  test('names that differ in one byte, or only in length, stay apart', () => {
    const set = new NameSet();
    for (const n of ['a', 'b', 'ab', 'ba', 'a\u0000', '', 'rootfs/\u00e9', 'rootfs/\u00c3\u00a9']) assert.ok(set.add(n, 'other'), n);
  });

  test('keeps every one of 300,000 names through many resizes', () => {
    const set = new NameSet();
    const n = 300_000;
    for (let i = 0; i < n; i++) assert.ok(set.add(`rootfs/usr/lib/f${i}`, i % 3 === 0 ? 'directory' : 'other'));
    assert.equal(set.size, n);
    for (let i = 0; i < n; i += 997) {
      assert.equal(set.kindOf(`rootfs/usr/lib/f${i}`), i % 3 === 0 ? 'directory' : 'other');
      assert.equal(set.add(`rootfs/usr/lib/f${i}`, 'other'), false);
      assert.equal(set.kindOf(`rootfs/usr/lib/g${i}`), undefined);
    }
  });

  test('a million names cost the same few tens of MB whatever their length', () => {
    globalThis.gc?.();
    const before = process.memoryUsage();
    const set = new NameSet();
    const stem = `rootfs/${'deep/'.repeat(20)}`; // 107+ bytes each: more than the 18 MB stored
    for (let i = 0; i < 1_000_000; i++) set.add(stem + i, 'other');
    const grew = process.memoryUsage().arrayBuffers - before.arrayBuffers;
    assert.ok(grew < 40 * 1024 * 1024, `typed arrays grew by ${grew} bytes`);
    assert.equal(set.size, 1_000_000);
  });
});
