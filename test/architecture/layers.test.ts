/**
 * The layering of src/, read from the imports themselves (type imports and
 * re-exports included): a module may import its own layer and those beneath it,
 * never one above. A new folder must be placed here before it can be imported.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');

/** Top to bottom; each entry is a folder (ending in /) or a file of src/. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli.ts', 'cli/', 'server.ts', 'healthcheck.ts'],
  ['app.ts', 'http/', 'discovery/'],
  ['ops/', 'runtime/', 'tls/'],
  ['registry/'],
  ['storage/', 'signing/', 'aci/', 'convert/', 'upstream/'],
  ['config/', 'errors.ts', 'error-codes.ts', 'names.ts', 'util/', 'logger.ts'],
];

function layerOf(file: string): number {
  const at = LAYERS.findIndex((layer) => layer.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
  assert.notEqual(at, -1, `src/${file} is in no layer: place its folder in ${relative(process.cwd(), import.meta.filename)}`);
  return at;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(SRC, join(e.parentPath, e.name)));
}

const STATIC = /(?:\bfrom\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
const LAZY = /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every relative import of a module, as paths inside src/; `lazy` adds those loaded by import(). */
function importsOf(file: string, lazy = true): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const found = [...text.matchAll(STATIC), ...(lazy ? text.matchAll(LAZY) : [])];
  return found.map((m) => relative(SRC, resolve(SRC, dirname(file), m[1]!)));
}

test('no module imports from a layer above its own', () => {
  const upward: string[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const target of importsOf(file)) {
      if (layerOf(target) < layerOf(file)) upward.push(`src/${file} -> src/${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

// Loading on demand (the CLI's commands) does not evaluate a module before its imports.
test('no module imports itself through others', () => {
  const graph = new Map(sourceFiles(SRC).map((f) => [f, importsOf(f, false)]));
  const cycles: string[] = [];
  const done = new Set<string>();
  const visit = (file: string, path: string[]): void => {
    const at = path.indexOf(file);
    if (at !== -1) return void cycles.push([...path.slice(at), file].map((f) => `src/${f}`).join(' -> '));
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('the check sees imports of every form', () => {
  // The reading itself must not miss an arrow: type imports, re-exports and side-effect imports count.
  const cli = importsOf('cli.ts');
  assert.ok(cli.some((f) => f.startsWith('runtime/')), 'side-effect import of runtime/ from cli.ts');
  assert.ok(importsOf('app.ts').includes('registry/registry.ts'), 'type import of the Registry from app.ts');
  assert.ok(layerOf('registry/registry.ts') > layerOf('http/routes/push.ts'));
});
