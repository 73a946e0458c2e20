/**
 * Property-based checks (fast-check): arbitrary input never escapes the typed
 * error catalogue, and rendered discovery HTML always parses back to exactly the
 * intended meta tags.
 */
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'parse5';
import { createInspector } from '../../src/aci/inspect.ts';
import { parseManifest, publishLabels } from '../../src/aci/manifest.ts';
import { isAcIdentifier, prefixCovers } from '../../src/names.ts';
import type { MetaTag } from '../../src/discovery/discovery-tags.ts';
import { renderDiscoveryPage } from '../../src/discovery/render-page.ts';
import { isAcihostError } from '../../src/errors.ts';
import { buildAci, manifestJson } from '../helpers/aci-builder.ts';

const RUNS = { numRuns: 300 };
const identifier = fc.stringMatching(/^[a-z0-9]{1,8}([-._~/][a-z0-9]{1,8}){0,4}$/);

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isAcihostError(e), `untyped error: ${(e as Error)?.stack ?? e}`);
  }
}

describe('properties', () => {
  it('names: classification never throws, and prefix coverage is segment-aligned', () => {
    fc.assert(
      fc.property(fc.string(), (s) => typeof isAcIdentifier(s) === 'boolean'),
      RUNS,
    );
    fc.assert(
      fc.property(identifier, identifier, (p, rest) => {
        assert.ok(prefixCovers(p, p));
        assert.ok(prefixCovers(p, `${p}/${rest}`));
        assert.ok(!prefixCovers(`${p}/${rest}`, p));
        assert.ok(!prefixCovers(p, `${p}x${rest}`));
      }),
      RUNS,
    );
  });

  it('manifests: any bytes or JSON either parse or fail with a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => onlyTyped(() => parseManifest(Buffer.from(bytes)))),
      RUNS,
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => onlyTyped(() => publishLabels(parseManifest(Buffer.from(JSON.stringify(v)))))),
      RUNS,
    );
    const base = JSON.parse(manifestJson('localhost/app', '1.0.0'));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('acKind', 'acVersion', 'name', 'labels', 'app', 'annotations', 'dependencies', 'pathWhitelist'),
          fc.jsonValue({ maxDepth: 4 }),
        ),
        (patch) => onlyTyped(() => publishLabels(parseManifest(Buffer.from(JSON.stringify({ ...base, ...patch }))))),
      ),
      RUNS,
    );
  });

  it('archives: random bytes and mutated ACIs end in a verdict or a typed error', async () => {
    const limits = { maxUncompressedBytes: 1 << 20, maxEntries: 100, maxManifestBytes: 1 << 16, maxPathBytes: 1024 };
    const verdict = async (bytes: Uint8Array) => {
      const { sink, result } = createInspector(limits);
      const done = new Promise<void>((resolve) => {
        (sink as Writable).on('error', () => resolve());
        (sink as Writable).on('finish', () => resolve());
      });
      sink.end(Buffer.from(bytes));
      await done;
      try {
        await result;
      } catch (e) {
        assert.ok(isAcihostError(e), `untyped error: ${(e as Error)?.stack ?? e}`);
      }
    };
    const plain = await buildAci({ name: 'localhost/app', compression: 'none' });
    const gz = await buildAci({ name: 'localhost/app' });
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), verdict), { numRuns: 150 });
    const mutate = (source: Buffer) =>
      fc.array(fc.tuple(fc.nat(source.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }).map((edits) => {
        const copy = Buffer.from(source);
        for (const [at, byte] of edits) copy[at] = byte;
        return copy;
      });
    await fc.assert(fc.asyncProperty(mutate(plain), verdict), { numRuns: 150 });
    await fc.assert(fc.asyncProperty(mutate(gz), verdict), { numRuns: 150 });
    await fc.assert(
      fc.asyncProperty(fc.nat(plain.length), (cut) => verdict(plain.subarray(0, cut))),
      { numRuns: 100 },
    );
  });

  it('discovery HTML parses back to exactly the intended meta tags, whatever the values', () => {
    const tag = fc.record({
      name: fc.constantFrom<MetaTag['name']>('ac-discovery', 'ac-discovery-pubkeys', 'ac-push-discovery'),
      prefix: fc.string({ minLength: 1 }).filter((s) => !/\s/.test(s)),
      url: fc.string({ minLength: 1 }).filter((s) => s.trim() === s),
    });
    fc.assert(
      fc.property(fc.string(), fc.array(tag, { maxLength: 6 }), (title, tags) => {
        const html = renderDiscoveryPage(title, tags);
        const metas: { name: string; content: string }[] = [];
        const walk = (node: any) => {
          if (node.tagName === 'meta') {
            const attrs = Object.fromEntries(node.attrs.map((a: { name: string; value: string }) => [a.name, a.value]));
            if (String(attrs.name ?? '').startsWith('ac-')) metas.push({ name: attrs.name, content: attrs.content });
          }
          for (const child of node.childNodes ?? []) walk(child);
          if (node.content) walk(node.content);
        };
        walk(parse(html));
        assert.deepEqual(
          metas,
          tags.map((t) => ({ name: t.name, content: `${t.prefix} ${t.url}` })),
        );
      }),
      RUNS,
    );
  });
});
