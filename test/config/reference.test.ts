/** docs/configuration.md is what `npm run docs:config` writes from the schema, or this fails. */
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENV_SETTINGS } from '../../src/config/env.ts';
import { REFERENCE_FILE, renderReference } from '../../src/config/reference.ts';

describe('configuration reference', () => {
  it('docs/configuration.md is up to date (run npm run docs:config)', async () => {
    assert.equal(await readFile(REFERENCE_FILE, 'utf8'), renderReference());
  });

  it('lists every setting with its variable, default and a description', () => {
    const text = renderReference();
    for (const s of ENV_SETTINGS) {
      assert.ok(s.about.length > 0, s.path);
      assert.match(
        text,
        new RegExp(`^\\| \`${s.path.replace(/\./g, '\\.')}\` \\| \`${s.variable}\` \\| [^|]+ \\| \`[^|]+ \\| [^|]+ \\|$`, 'm'),
      );
    }
  });
});
