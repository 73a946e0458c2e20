/** The byte-bounded least-recently-used cache (src/util/byte-lru.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteLru } from '../../src/util/byte-lru.ts';

const lru = (maxBytes: number) => new ByteLru<string, string>(maxBytes, (value) => value.length);

describe('byte-bounded LRU', () => {
  it('keeps entries while their bytes fit, and counts them', () => {
    const c = lru(10);
    assert.equal(c.set('a', 'xxxx'), true);
    assert.equal(c.set('b', 'yyyyyy'), true);
    assert.equal(c.bytes, 10);
    assert.equal(c.size, 2);
    assert.equal(c.get('a'), 'xxxx');
    assert.equal(c.get('b'), 'yyyyyy');
    assert.equal(c.evictions, 0);
  });

  it('drops the least recently used entries to make room, a read counting as a use', () => {
    const c = lru(9);
    c.set('a', 'aaa');
    c.set('b', 'bbb');
    c.set('c', 'ccc');
    assert.equal(c.get('a'), 'aaa');
    c.set('d', 'dddddd');
    assert.equal(c.get('b'), undefined, 'the least recently used went first');
    assert.equal(c.get('c'), undefined, 'then the next, until the new entry fit');
    assert.equal(c.get('a'), 'aaa', 'the one read just before stayed');
    assert.equal(c.get('d'), 'dddddd');
    assert.equal(c.bytes, 9);
    assert.equal(c.evictions, 2);
  });

  it('replaces an entry in place of its old bytes', () => {
    const c = lru(10);
    c.set('a', 'aaaaaaaa');
    c.set('a', 'aa');
    assert.equal(c.bytes, 2);
    assert.equal(c.size, 1);
    c.set('b', 'bbbbbbbb');
    assert.equal(c.get('a'), 'aa');
    assert.equal(c.evictions, 0);
  });

  it('keeps nothing larger than its whole bound, and drops what it would have replaced', () => {
    const c = lru(4);
    c.set('small', 'xx');
    c.set('a', 'aa');
    assert.equal(c.set('a', 'aaaaa'), false);
    assert.equal(c.get('a'), undefined);
    assert.equal(c.get('small'), 'xx', 'nothing else was dropped for it');
    assert.equal(c.bytes, 2);
    assert.equal(lru(0).set('a', 'a'), false);
  });

  it('stays within its bound whatever is set, and forgets on delete and clear', () => {
    const c = lru(1000);
    for (let i = 0; i < 10_000; i++) {
      c.set(`k${i % 3000}`, 'v'.repeat(1 + (i % 97)));
      assert.ok(c.bytes <= 1000);
    }
    const sum = () => {
      let n = 0;
      for (let i = 0; i < 3000; i++) n += c.get(`k${i}`)?.length ?? 0;
      return n;
    };
    assert.equal(sum(), c.bytes, 'the bytes counted are those held');
    const [first] = [...Array(3000).keys()].map((i) => `k${i}`).filter((k) => c.get(k) !== undefined);
    assert.equal(c.delete(first!), true);
    assert.equal(c.delete(first!), false);
    assert.equal(sum(), c.bytes);
    c.clear();
    assert.equal(c.bytes, 0);
    assert.equal(c.size, 0);
  });
});
