/**
 * `npm run docs:config`: writes docs/configuration.md from the schema's settings table
 * and config/default.json. Run it after changing either; a test fails until then.
 */
import { writeFileSync } from 'node:fs';
import { REFERENCE_FILE, renderReference } from '../src/config/reference.ts';

writeFileSync(REFERENCE_FILE, renderReference());
process.stdout.write(`wrote ${REFERENCE_FILE.pathname}\n`);
