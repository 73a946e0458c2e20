/**
 * `npm run docs:errors`: renders the error codes part of docs/http-api.md from the
 * catalogue (src/error-codes.ts). Run it after changing a code; a test fails until then.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ERRORS_DOC, withErrorTable } from '../src/http/error-table.ts';

writeFileSync(ERRORS_DOC, withErrorTable(readFileSync(ERRORS_DOC, 'utf8')));
process.stdout.write(`wrote ${ERRORS_DOC.pathname}\n`);
