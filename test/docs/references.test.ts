/**
 * Every file in the repository refers only to documents the repository has: no page of
 * another project's notes, and no path under docs/ (with or without a #heading) that
 * leads nowhere. Public specifications (RFCs, appc/spec paths) are not checked here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { anchors, ROOT } from './markdown.ts';

/** The files git tracks, but the downloaded tools under .cache/; undefined outside a git checkout. */
function trackedFiles(): string[] | undefined {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  return out.split('\0').filter((f) => f !== '' && !f.startsWith('.cache/'));
}

/** The text of each tracked text file (a file holding a NUL byte is binary and skipped). */
function trackedTexts(files: string[]): { file: string; text: string }[] {
  return files
    .filter((file) => existsSync(join(ROOT, file)))
    .map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }))
    .filter(({ text }) => !text.includes('\0'));
}

/** 1-based line of an offset in a text. */
const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

// Documents that belong to other projects, spelt in parts so that this file does not name them.
const FOREIGN = ['toolchain', 'appc-protocol', 'contracts', 'style'].map((name) => `${name}.md`);
const FOREIGN_PATTERN = new RegExp(`(?<![\\w-])(${FOREIGN.map((n) => n.replace(/[.-]/g, '\\$&')).join('|')})`, 'g');

// A docs/ path as a file or a comment names it, not part of a longer path, with an optional #heading.
const DOCS_PATH = /(?<![\w./-])docs\/([\w.-]+\.md)(?:#([\w-]+))?/g;

const files = trackedFiles();

test('no tracked file refers to a document of another project', { skip: files ? false : 'not a git checkout' }, () => {
  const hits: string[] = [];
  for (const { file, text } of trackedTexts(files!)) {
    for (const m of text.matchAll(FOREIGN_PATTERN)) hits.push(`${file}:${lineOf(text, m.index)}: ${m[1]}`);
  }
  assert.deepEqual(hits, [], 'refer to a page of docs/ that states the fact, or state it where it is used');
});

test('every docs/ path a tracked file names exists, and so does its #heading', { skip: files ? false : 'not a git checkout' }, () => {
  const headings = new Map<string, Set<string>>();
  const problems: string[] = [];
  for (const { file, text } of trackedTexts(files!)) {
    for (const m of text.matchAll(DOCS_PATH)) {
      const [, page, anchor] = m;
      const where = `${file}:${lineOf(text, m.index)}: ${m[0]}`;
      const path = join(ROOT, 'docs', page!);
      if (!existsSync(path)) {
        problems.push(`${where}: no such page in docs/`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!headings.has(page!)) headings.set(page!, anchors(readFileSync(path, 'utf8')));
      if (!headings.get(page!)!.has(anchor)) problems.push(`${where}: no such heading`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the patterns find what they are meant to', () => {
  const foreign = (s: string) => [...s.matchAll(FOREIGN_PATTERN)].map((m) => m[1]);
  assert.deepEqual(foreign(`see ${FOREIGN[0]} and docs/${FOREIGN[1]} §2`), [FOREIGN[0], FOREIGN[1]]);
  assert.deepEqual(foreign(`life${FOREIGN[3]}, my-${FOREIGN[2]}`), []);
  const docs = (s: string) => [...s.matchAll(DOCS_PATH)].map((m) => [m[1], m[2]]);
  assert.deepEqual(docs('(docs/design.md#memory), docs/http-api.md.'), [
    ['design.md', 'memory'],
    ['http-api.md', undefined],
  ]);
  assert.deepEqual(docs('test/docs/x.md ../docs/y.md'), []);
});
