/**
 * The error catalogue (src/error-codes.ts) and the pages agree: the generated part of
 * docs/http-api.md is current, every listed code is still given somewhere in src/, and a
 * code a page names by hand exists, with the status the catalogue gives it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../src/error-codes.ts';
import { ERRORS_DOC, statusOfCode, withErrorTable } from '../../src/http/error-table.ts';
import { ROOT } from './markdown.ts';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const isCode = (word: string): word is ErrorCode => Object.hasOwn(ERROR_CODES, word);

function filesUnder(dir: string, ending: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ending))
    .map((f) => join(dir, f));
}

const pages = [join(ROOT, 'README.md'), ...filesUnder(join(ROOT, 'docs'), '.md')].map((path) => ({
  path: relative(ROOT, path),
  text: readFileSync(path, 'utf8'),
}));

const SOURCE = new Map(filesUnder(join(ROOT, 'src'), '.ts').map((f) => [f, readFileSync(f, 'utf8')]));

// Backticked UPPER_SNAKE words, less environment variables, constants of the source and the example of an uncatalogued Fastify code.
const NOT_CODES = /^(ACIHOST_|AWS_|SSL_|NODE_)|^METHOD_NOT_ALLOWED$/;
const CONSTANTS = new Set([...SOURCE.values()].flatMap((text) => [...text.matchAll(/\bconst ([A-Z][A-Z0-9_]*)\b/g)].map((m) => m[1]!)));
const codesNamedIn = (text: string) =>
  [...text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:[A-Z0-9]+|\*))`/g)]
    .map((m) => m[1]!)
    .filter((w) => !NOT_CODES.test(w) && !CONSTANTS.has(w));

test('docs/http-api.md has the error codes as the catalogue renders them (run npm run docs:errors)', () => {
  const doc = readFileSync(ERRORS_DOC, 'utf8');
  assert.equal(doc, withErrorTable(doc));
});

test('every code in the catalogue is still given somewhere in src/', () => {
  const catalogue = join(ROOT, 'src', 'error-codes.ts');
  const source = [...SOURCE]
    .filter(([f]) => f !== catalogue)
    .map(([, text]) => text)
    .join('\n');
  assert.deepEqual(
    CODES.filter((c) => !source.includes(`'${c}'`)),
    [],
    'codes listed in src/error-codes.ts that nothing in src/ gives',
  );
});

test('every code a page names is in the catalogue; a pattern such as ARCHIVE_* covers at least one', () => {
  const unknown: string[] = [];
  for (const { path, text } of pages) {
    for (const word of codesNamedIn(text)) {
      const known = word.endsWith('*') ? CODES.some((c) => c.startsWith(word.slice(0, -1))) : isCode(word);
      if (!known) unknown.push(`${path}: ${word}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('a table row for a status names only codes of that status (patterns aside)', () => {
  const wrong: string[] = [];
  for (const { path, text } of pages) {
    for (const row of text.matchAll(/^\| (\d{3}) \|(.*)$/gm)) {
      const status = Number(row[1]);
      for (const word of codesNamedIn(row[2]!)) {
        if (!isCode(word)) continue;
        const documented = statusOfCode(word);
        if (documented !== undefined && documented !== status) wrong.push(`${path}: ${word} under ${status}, but it is ${documented}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});
