/**
 * The order `latest` and retention use: semver versions by precedence (a leading v
 * allowed, prereleases below their release, ties by push time) above versions that
 * do not parse, which rank by push time. Each ordering is checked both ways round and
 * again on records already compared, since each record's version is parsed once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, highestVersion } from '../../src/registry/catalog/version-order.ts';
import { versionRecord } from '../helpers/records.ts';

const at = (version: string, day: number) =>
  versionRecord('localhost/app', { version, pushedAt: new Date(Date.UTC(2026, 0, day)).toISOString() });

/** Records from lowest to highest rank. */
const ORDER = [
  at('build-9', 1),
  at('nightly', 2),
  at('build-1', 3),
  at('0.9.0', 9),
  at('v1.0.0-rc.1', 4),
  at('1.0.0-rc.2', 1),
  at('1.0.0', 1),
  at('v1.0.0', 2),
  at('v1.0.1', 1),
  at('1.10.0', 1),
];

describe('version order', () => {
  it('ranks every pair as the list does, both ways round, twice', () => {
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < ORDER.length; i++)
        for (let j = i + 1; j < ORDER.length; j++) {
          const [low, high] = [ORDER[i]!, ORDER[j]!];
          assert.ok(compareVersions(low, high) < 0, `${low.version} (${low.pushedAt}) ranks below ${high.version} (${high.pushedAt})`);
          assert.ok(compareVersions(high, low) > 0, `${high.version} ranks above ${low.version}`);
        }
  });

  it('finds the highest whatever the order it is given in', () => {
    assert.equal(highestVersion(ORDER), ORDER.at(-1));
    assert.equal(highestVersion([...ORDER].reverse()), ORDER.at(-1));
    assert.equal(highestVersion(ORDER.slice(0, 3)), ORDER[2], 'without semver, the newest push');
    assert.equal(highestVersion([]), undefined);
  });
});
