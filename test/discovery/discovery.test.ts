/** Discovery tags and their HTML, from a real catalogue and key store on disk. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { discoveryTags, MAX_NAMES_PER_PAGE } from '../../src/discovery/discovery-tags.ts';
import { escapeHtml, renderDiscoveryPage } from '../../src/discovery/render-page.ts';
import { Catalog } from '../../src/registry/catalog/catalog.ts';
import { KeyStore } from '../../src/registry/trust/keyring.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { versionRecord } from '../helpers/records.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ORIGIN = 'https://localhost:8443';
const TEMPLATE = `${ORIGIN}/-/aci/{name}/{version}/{os}/{arch}.{ext}`;
const PUSH_TEMPLATE = `${ORIGIN}/-/acpush/start/{name}/{version}/{os}/{arch}.{ext}`;

/** Parses meta tags back out of a page the way a tokenizer would: attribute entities decoded. */
function metas(html: string): { name: string; content: string }[] {
  const decode = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  return [...html.matchAll(/<meta name="(ac-[^"]*)" content="([^"]*)">/g)].map((m) => ({ name: m[1]!, content: decode(m[2]!) }));
}

describe('discovery', () => {
  let gpg: Gpg;
  let teamKey: GpgKey;
  let rootKey: GpgKey;
  let catalog: Catalog;
  let keys: KeyStore;
  let storage: CheckedStorage;

  before(async () => {
    gpg = await createGpg();
    [teamKey, rootKey] = [await gpg.genKey({ algo: 'rsa2048' }), await gpg.genKey({ algo: 'rsa2048' })];
    storage = new CheckedStorage(new FsStorage(await tempDir('acihost-disc-')));
    catalog = new Catalog(storage);
    keys = new KeyStore(storage, 'localhost');
    await keys.add('localhost/team', await gpg.exportPublic(teamKey.fingerprint));
    await keys.add('localhost', await gpg.exportPublic(rootKey.fingerprint));
    for (const n of ['localhost/team/app', 'localhost/team/app/sub', 'localhost/teamx/app', 'localhost/team/tool'])
      catalog.add(versionRecord(n));
  });
  after(() => gpg?.cleanup());

  const tags = (name: string) => discoveryTags({ name, catalog, keys, origin: ORIGIN });

  it('puts the name equal to the path first, then names below it, each followed by its keys and its push endpoint', () => {
    const t = tags('localhost/team/app')!;
    assert.deepEqual(
      t.map((x) => `${x.name} ${x.prefix}`),
      [
        'ac-discovery localhost/team/app',
        `ac-discovery-pubkeys localhost/team`,
        `ac-discovery-pubkeys localhost`,
        'ac-push-discovery localhost/team/app',
        'ac-discovery localhost/team/app/sub',
        `ac-discovery-pubkeys localhost/team`,
        `ac-discovery-pubkeys localhost`,
        'ac-push-discovery localhost/team/app/sub',
      ],
    );
    assert.equal(t[0]!.url, TEMPLATE);
    assert.equal(t[1]!.url, `${ORIGIN}/-/keys/${teamKey.fingerprint}.asc`);
    assert.equal(t[3]!.url, PUSH_TEMPLATE);
  });

  it('is segment-exact: localhost/team never lists localhost/teamx', () => {
    const names = tags('localhost/team')!
      .filter((t) => t.name === 'ac-discovery')
      .map((t) => t.prefix);
    assert.deepEqual(names, ['localhost/team/app', 'localhost/team/app/sub', 'localhost/team/tool']);
    const teamx = tags('localhost/teamx')!;
    assert.ok(!teamx.some((t) => t.url.includes(teamKey.fingerprint)), 'the team key does not cover teamx');
  });

  it('carries only the covering keys and the push endpoints of their prefixes where nothing is stored, and null where nothing covers', () => {
    const t = tags('localhost/team/new')!;
    assert.deepEqual(
      t.map((x) => `${x.name} ${x.prefix}`),
      [
        'ac-discovery-pubkeys localhost/team',
        'ac-discovery-pubkeys localhost',
        'ac-push-discovery localhost/team',
        'ac-push-discovery localhost',
      ],
    );
    assert.equal(t[2]!.url, PUSH_TEMPLATE);
    const empty = new KeyStore(storage, 'example.org');
    assert.equal(discoveryTags({ name: 'example.org/none', catalog: new Catalog(storage), keys: empty, origin: ORIGIN }), null);
  });

  it(`collapses more than ${MAX_NAMES_PER_PAGE} names below a path into one tag for the path`, () => {
    for (let i = 0; i < MAX_NAMES_PER_PAGE + 1; i++) catalog.add(versionRecord(`localhost/many/app${i}`));
    const t = tags('localhost/many')!;
    assert.deepEqual(
      t.filter((x) => x.name === 'ac-discovery').map((x) => x.prefix),
      ['localhost/many'],
    );
    assert.deepEqual(
      t.filter((x) => x.name === 'ac-push-discovery').map((x) => x.prefix),
      ['localhost/many'],
      'one push tag stands for every name below too',
    );
    const few = tags('localhost/team')!.filter((x) => x.name === 'ac-discovery');
    assert.equal(few.length, 3);
  });

  it('renders a page whose meta tags parse back to exactly the tags, whatever the text', () => {
    const hostile = [{ name: 'ac-discovery' as const, prefix: 'x"><script>alert(1)</script>', url: 'https://h/&amp;"\'<>' }];
    const html = renderDiscoveryPage('<b>"title"</b>', hostile);
    assert.doesNotMatch(html, /<script>/);
    assert.deepEqual(metas(html), [{ name: 'ac-discovery', content: `${hostile[0]!.prefix} ${hostile[0]!.url}` }]);
    assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
  });
});
