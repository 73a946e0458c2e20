/**
 * The README stays an entry point a newcomer can read, and every page of the documentation
 * stays linked correctly: short, two commands first, nothing that fetches a stranger's
 * package, no internal bookkeeping, and no link or anchor that leads nowhere.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { anchors, codeBlocks, links, readmePath, readReadme, ROOT } from './markdown.ts';

const readme = readReadme();
const DOCS = join(ROOT, 'docs');
const docPages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => join(DOCS, f));

/** The README is checked as if it sat at the checkout's root, whichever file DOCS_README names. */
const pages: { path: string; text: string }[] = [
  { path: join(ROOT, 'README.md'), text: readme },
  ...docPages.map((path) => ({ path, text: readFileSync(path, 'utf8') })),
];

test('the README is at most 250 lines', () => {
  const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);
  assert.ok(lines <= 250, `${readmePath()} has ${lines} lines; move detail to docs/`);
});

test('the first code block holds exactly two one-line commands: start the server, run the suite', () => {
  const first = codeBlocks(readme)[0];
  assert.ok(first, 'the README has a code block');
  const commands = first.body.split('\n').filter((l) => l.trim() !== '');
  assert.equal(commands.length, 2, `the first code block (line ${first.line}) has ${commands.length} lines:\n${first.body}`);
  for (const c of commands) assert.doesNotMatch(c, /\\$/, `a command continued on another line: ${c}`);
  assert.match(commands[0]!, /npm start/);
  assert.match(commands[1]!, /^npm test\s*$/);
});

test('no page runs `npx acihost`, which asks the npm registry for an unrelated package', () => {
  for (const { path, text } of pages) assert.doesNotMatch(text, /npx\s+acihost/, relative(ROOT, path));
});

// The directory beside the checkout that a clone does not have, spelled so that this file is not itself a reference to it.
const BESIDE = new RegExp(['\\.\\.', 'shared'].join('/'));

test('no page points at a directory beside the checkout', () => {
  for (const { path, text } of pages) assert.doesNotMatch(text, BESIDE, relative(ROOT, path));
});

test('the README names no issue, and no page cites an issue number', () => {
  assert.doesNotMatch(readme, /\bissues?\b/i, 'the README speaks of the product, not of its tracker');
  for (const { path, text } of pages) {
    const prose = text.replace(/`[^`\n]*`/g, '');
    const hit = /(^|[\s(])#\d+\b/m.exec(prose) ?? /\bissue\s+#?\d+/i.exec(prose);
    assert.equal(hit, null, `${relative(ROOT, path)} cites an issue number: ${hit?.[0]}`);
  }
});

test('every relative link leads to a file that exists, and every #anchor to a heading in it', () => {
  const problems: string[] = [];
  for (const { path, text } of pages) {
    for (const { target, line } of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [file = '', anchor] = target.split('#', 2);
      const where = `${relative(ROOT, path)}:${line} → ${target}`;
      const dest = file === '' ? path : resolve(dirname(path), decodeURIComponent(file));
      if (!dest.startsWith(ROOT + '/')) {
        problems.push(`${where}: outside the checkout`);
        continue;
      }
      if (!existsSync(dest)) {
        problems.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!statSync(dest).isFile() || !dest.endsWith('.md')) {
        problems.push(`${where}: an anchor into a file that is not Markdown`);
        continue;
      }
      const text2 = dest === join(ROOT, 'README.md') ? readme : readFileSync(dest, 'utf8');
      if (!anchors(text2).has(decodeURIComponent(anchor))) problems.push(`${where}: no such heading`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the README links every page of docs/', () => {
  const linked = new Set(
    links(readme)
      .map((l) => l.target.split('#')[0]!)
      .filter((t) => t.startsWith('docs/')),
  );
  const missing = docPages.map((p) => relative(ROOT, p)).filter((p) => !linked.has(p));
  assert.deepEqual(missing, [], 'pages in docs/ the README does not link');
});

test('anchors are spelt as GitHub spells them, so the link check agrees with the rendered page', () => {
  const got = anchors(
    "# Private prefixes and rkt's auth.d\n## 5. Push\n```\n# not a heading\n```\n## Tests\n## Tests\n### `acihost` and S3 → replicas\n",
  );
  assert.deepEqual([...got], ['private-prefixes-and-rkts-authd', '5-push', 'tests', 'tests-1', 'acihost-and-s3--replicas']);
});
