import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeFingerprint } from '../../src/signing/keys.ts';

const fpr = 'f0caf6b0743af46ff75d8c94cac8488699f33284';

describe('normalizeFingerprint', () => {
  it('accepts upper and lower case, with or without spaces', () => {
    assert.equal(normalizeFingerprint(fpr), fpr);
    assert.equal(normalizeFingerprint(fpr.toUpperCase()), fpr);
    assert.equal(normalizeFingerprint('F0CA F6B0 743A F46F F75D  8C94 CAC8 4886 99F3 3284'), fpr);
    assert.equal(normalizeFingerprint(` 0x${fpr}\n`), fpr);
  });
  for (const bad of ['', 'cac8488699f33284', `${fpr}00`, fpr.replace('f', 'g'), `${fpr.slice(0, 39)}-`]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => normalizeFingerprint(bad), { code: 'KEY_FINGERPRINT_INVALID', kind: 'invalid' });
    });
  }
});
