/**
 * The page for people that shares one HTML document with the discovery tags: what it
 * shows for a path and for a name, its commands, pagination, the friendly 404, and
 * that the meta tags are the same whatever the query.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { ensureDevCertificates } from '../../src/tls/dev-ca.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import type { PageModel } from '../../src/discovery/page-model.ts';
import { peoplePage } from '../../src/discovery/people-page.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { seedRecords, versionRecord } from '../helpers/records.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const metas = (html: string) => html.match(/<meta name="ac-[^>]*>/g) ?? [];
const HTML_ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
/** The text of each code box, as a person copies it. */
const codeBoxes = (html: string) =>
  [...html.matchAll(/<pre tabindex="0"><code>([\s\S]*?)<\/code><\/pre>/g)].map((m) =>
    m[1]!.replace(/&(amp|lt|gt|quot|#39);/g, (e) => HTML_ENTITIES[e]!),
  );

describe('page for people', () => {
  let f: Fixture;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
  });
  after(() => f?.close());

  it('answers / with 200 and a page that says how to push when nothing is stored', async () => {
    const res = await f.server.request('/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const html = res.body.toString();
    assert.match(html, /No images have been pushed under <code>localhost<\/code> yet/);
    assert.match(html, /-F asc=@app\.aci\.asc -F aci=@app\.aci https:\/\/localhost:\d+\/-\/push/);
  });

  it('shows a name with its versions, os/arch, sizes, push times, short image IDs, signers and commands', async () => {
    const pushed: { imageId: string; size: number }[] = [];
    for (const [version, arch] of [
      ['1.0.0', 'amd64'],
      ['1.2.0', 'amd64'],
      ['1.2.0', 'aarch64'],
    ]) {
      const res = await f.push({ name: 'localhost/team/app', version, arch });
      assert.equal(res.status, 201, res.raw);
      pushed.push(res.json);
    }
    const html = (await f.server.request('/team/app')).body.toString();
    assert.match(html, /<h1>localhost\/team\/app<\/h1>/);
    assert.match(html, /<th scope="row">1\.2\.0 <span class="badge">latest<\/span><\/th><td>linux\/aarch64<\/td>/);
    assert.match(html, /<th scope="row">1\.0\.0<\/th><td>linux\/amd64<\/td>/);
    for (const p of pushed) {
      assert.ok(html.includes(`<code title="${p.imageId}">${p.imageId.slice(0, 19)}…</code>`), 'short image id, full in title');
      assert.ok(html.includes(`title="${p.size} bytes"`));
    }
    assert.match(html, /<time datetime="\d{4}-\d\d-\d\dT[^"]+Z">/);
    assert.ok(html.includes(`<a href="/-/keys/${f.key.fingerprint}.asc"><code>${f.key.fingerprint}</code>`));
    assert.ok(html.includes(`<a href="/-/aci/localhost/team/app/1.0.0/linux/amd64.aci">.aci</a>`));
    // The fixture's server serves the development CA's certificate: each command says where that CA is.
    const ca = f.server.caFile;
    assert.ok(
      html.includes(`<code>sudo SSL_CERT_FILE=${ca} rkt trust --prefix localhost/team</code>`),
      'the prefix the key is trusted for',
    );
    assert.ok(
      html.includes(`sudo SSL_CERT_FILE=${ca} rkt fetch localhost/team/app:1.2.0\nsudo SSL_CERT_FILE=${ca} rkt fetch localhost/team/app`),
    );
    assert.ok(html.includes(`curl --cacert ${ca} --fail-with-body -H &quot;Authorization: Bearer $TOKEN&quot;`));
    assert.match(html, /rkt discovers images on port 443 only/);
    assert.match(html, /ci &lt;ci@localhost&gt;/, 'the key user id, escaped');
  });

  it('lists the names under a path, each linking to its page, with its latest version', async () => {
    assert.equal((await f.push({ name: 'localhost/team/tool', version: 'v2.0.0' })).status, 201);
    const html = (await f.server.request('/team')).body.toString();
    assert.match(html, /<li><a href="\/team\/app">localhost\/team\/app<\/a> <span class="muted">latest 1\.2\.0, 2 platforms<\/span><\/li>/);
    assert.match(
      html,
      /<li><a href="\/team\/tool">localhost\/team\/tool<\/a> <span class="muted">latest v2\.0\.0, 1 platform<\/span><\/li>/,
    );
    assert.match(html, /<nav aria-label="Path"><a href="\/">localhost<\/a> \/ <span aria-current="page">team<\/span><\/nav>/);
  });

  it('carries the same meta tags with and without ?ac-discovery=1, on any page of names', async () => {
    for (const path of ['/', '/team', '/team/app']) {
      const plain = (await f.server.request(path)).body.toString();
      for (const query of ['?ac-discovery=1', '?page=2', '?ac-discovery=1&page=x']) {
        const other = (await f.server.request(path + query)).body.toString();
        assert.deepEqual(metas(other), metas(plain), path + query);
      }
      assert.ok(metas(plain).length > 0);
      assert.ok(plain.indexOf('<meta name="ac-') < plain.indexOf('<style>'), 'tags stay in the head, before the style');
    }
  });

  it('answers an unknown path with a friendly 404 page without tags, so rkt walks up', async () => {
    for (const path of ['/nothing/here', '/Not..A..Name']) {
      const res = await f.server.request(path);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      const html = res.body.toString();
      assert.match(html, /<h1>Nothing here<\/h1>/);
      assert.match(html, /<a href="\/">Every image on localhost<\/a>/);
      assert.deepEqual(metas(html), []);
    }
    assert.match((await f.server.request('/nothing/here')).body.toString(), /<a href="\/nothing">localhost\/nothing<\/a>, one level up/);
  });

  it('suggests rkt trust only for prefixes that have keys, and names them where the path has none', async () => {
    const other = await f.gpg.genKey({ algo: 'rsa2048', uid: 'ops <ops@localhost>' });
    await f.trust(other, 'localhost/ops');
    // The CLI wrote the key to storage; look now rather than wait for the server's next poll.
    await f.server.running.registry.keys.mirror.refresh();
    const trusts = (html: string) => [...html.matchAll(/ rkt trust --prefix ([^\s<]+)/g)].map((m) => m[1]);

    const root = (await f.server.request('/')).body.toString();
    assert.deepEqual(trusts(root), ['localhost/ops', 'localhost/team'], 'no key is trusted for localhost itself');
    assert.ok(
      codeBoxes(root).includes(
        `sudo SSL_CERT_FILE=${f.server.caFile} rkt trust --prefix localhost/ops\nsudo SSL_CERT_FILE=${f.server.caFile} rkt trust --prefix localhost/team`,
      ),
    );
    assert.match(
      root,
      /No key is trusted for localhost itself\. These prefixes below it have keys:<\/p><ul class="names">\n<li><a href="\/ops">localhost\/ops<\/a><\/li>\n<li><a href="\/team">localhost\/team<\/a><\/li>/,
    );
    assert.doesNotMatch(root, /No key is trusted for localhost yet/);

    // Below a key's prefix: that prefix, whose keys rkt discovers, not the name's own.
    assert.deepEqual(trusts((await f.server.request('/team/app')).body.toString()), ['localhost/team']);
    const team = (await f.server.request('/team')).body.toString();
    assert.deepEqual(trusts(team), ['localhost/team']);
    assert.doesNotMatch(team, /These prefixes below it/);
  });

  it('gives a push command that works as pasted under the development CA', async () => {
    const root = (await f.server.request('/')).body.toString();
    const push = codeBoxes(root).find((c) => c.startsWith('gpg --armor --detach-sign app.aci\n'));
    assert.ok(push, 'a push recipe');
    assert.ok(push.includes(`curl --cacert ${f.server.caFile} `), push);
    const dir = await mkdtemp(join(f.server.dir, 'paste-'));
    await writeFile(join(dir, 'app.aci'), await buildAci({ name: 'localhost/team/pasted', version: '1.0.0' }));
    await f.gpg.signFile(join(dir, 'app.aci'), f.key.fingerprint);
    // From the curl line on, as a person pastes it after signing (the gpg line needs their own key).
    const pasted = push.slice(push.indexOf('curl '));
    const run = await promisify(execFile)('bash', ['-c', pasted], { cwd: dir, env: { ...process.env, TOKEN: f.token } }).catch(
      (e: { code: number; stderr: string }) => assert.fail(`exit ${e.code}: ${e.stderr}`),
    );
    assert.equal(JSON.parse(run.stdout).name, 'localhost/team/pasted');

    assert.ok(
      codeBoxes(root).includes(
        `sudo cp ${f.server.caFile} /usr/local/share/ca-certificates/acihost-dev.crt && sudo update-ca-certificates`,
      ),
      'how to trust the CA for good',
    );
    assert.match(root, /which works on the server&#39;s own machine; elsewhere, copy that file over/);
  });

  it('escapes every value it shows', () => {
    const evil = '<script>alert(1)</script>"\'&';
    const record = versionRecord('localhost/x', { version: evil, os: evil, arch: evil }, 1);
    const model: PageModel = {
      domain: 'localhost',
      origin: 'https://localhost',
      name: 'localhost/x',
      isPrivate: true,
      image: { visible: true, versions: [record], total: 1, latest: new Set([record]) },
      below: { names: [{ name: evil, href: evil, isPrivate: false, latest: evil, platforms: 1 }], total: 1, page: 1, pages: 1 },
      keys: [{ fingerprint: evil, prefix: evil, userId: evil, url: evil }],
      keyPrefixesBelow: { prefixes: [evil], total: 2 },
    };
    const { body } = peoplePage(model);
    assert.doesNotMatch(body, /<script>|"'&[^a#]/);
    assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'));
  });
});

describe('page for people: certificates', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('names the development CA by its absolute path, however the configuration spells it, also for private names', async () => {
    const certsDir = relative(process.cwd(), await tempDir('acihost-page-certs-'));
    const server = await startTestServer({ certsDir, config: { access: { privatePrefixes: ['localhost/secret'] } } });
    servers.push(server);
    const absolute = join(process.cwd(), certsDir, 'ca.pem');
    const storage = server.storageDir;
    await seedRecords(storage, [versionRecord('localhost/secret/app', {}, 1)]);
    await server.running.registry.catalog.ensureName('localhost/secret/app');
    const html = (await server.request('/secret/app')).body.toString();
    assert.ok(html.includes(`<code>curl --cacert ${absolute} -H "Authorization: Bearer $TOKEN" ${server.origin}/-/api/images/`));
    assert.ok(html.includes(`curl --cacert ${absolute} --fail-with-body`));
    assert.ok(html.includes(`sudo SSL_CERT_FILE=${absolute} rkt fetch localhost/secret/app`));
  });

  it('names no CA when the certificate comes from files', async () => {
    const certsDir = await tempDir('acihost-page-files-');
    // A certificate from files, issued here by a CA the test trusts: to the server, a real one.
    const paths = await ensureDevCertificates(certsDir);
    const server = await startTestServer({ certsDir, env: { ACIHOST_TLS_CERT: paths.cert, ACIHOST_TLS_KEY: paths.key } });
    servers.push(server);
    assert.equal(server.running.state.certificate?.get()?.source, 'files');
    const html = (await server.request('/')).body.toString();
    assert.match(html, /<code>gpg --armor --detach-sign app\.aci\ncurl --fail-with-body /);
    assert.doesNotMatch(html, /--cacert|SSL_CERT_FILE|development CA|update-ca-certificates/);
  });
});

describe('page for people: pagination', () => {
  let server: TestServer;
  const NAMES = 120;

  before(async () => {
    const storage = await tempDir('acihost-pages-');
    await seedRecords(storage, [
      ...Array.from({ length: NAMES }, (_, i) => versionRecord(`localhost/many/svc${String(i).padStart(3, '0')}`, {}, i)),
      ...Array.from({ length: 80 }, (_, i) => versionRecord('localhost/big', { version: `1.0.${i}` }, i)),
    ]);
    server = await startTestServer({ env: { ACIHOST_STORAGE_DIR: storage } });
  });
  after(() => server?.close());

  it('suggests no rkt trust where no key is trusted at or below a path', async () => {
    const html = (await server.request('/many')).body.toString();
    assert.doesNotMatch(html, /rkt trust/);
    assert.match(html, /No key is trusted for localhost\/many or any prefix below it yet\./);
  });

  const names = (html: string) => [...html.matchAll(/<li><a href="\/many\/(svc\d+)">/g)].map((m) => m[1]);

  it('shows 50 names a page with previous/next links, while the tags collapse to one for the path', async () => {
    const first = (await server.request('/many')).body.toString();
    assert.deepEqual(names(first).slice(0, 2), ['svc000', 'svc001']);
    assert.equal(names(first).length, 50);
    assert.match(first, /Page 1 of 3<\/span><a href="\/many\?page=2" rel="next">/);
    assert.match(first, /\(120\)/);
    const third = (await server.request('/many?page=3')).body.toString();
    assert.deepEqual(
      names(third),
      Array.from({ length: 20 }, (_, i) => `svc${100 + i}`),
    );
    assert.match(third, /<a href="\/many\?page=2" rel="prev">← Previous<\/a><span>Page 3 of 3<\/span><\/nav>/);
    const beyond = (await server.request('/many?page=99')).body.toString();
    assert.deepEqual(names(beyond), names(third), 'past the end shows the last page');
    assert.deepEqual(
      metas(first).filter((m) => m.includes('name="ac-discovery"')),
      [`<meta name="ac-discovery" content="localhost/many ${server.origin}/-/aci/{name}/{version}/{os}/{arch}.{ext}">`],
    );
    assert.ok(first.length < 32 * 1024, `${first.length} bytes`);
  });

  it('shows the 50 highest versions of a name with many, and points to the API for the rest', async () => {
    const html = (await server.request('/big')).body.toString();
    const rows = [...html.matchAll(/<th scope="row">(1\.0\.\d+)/g)].map((m) => m[1]);
    assert.equal(rows.length, 50);
    assert.deepEqual([rows[0], rows[49]], ['1.0.79', '1.0.30']);
    assert.match(
      html,
      /Showing the 50 highest of 80 versions; <a href="[^"]*\/-\/api\/images\/localhost\/big">the JSON API<\/a> lists all/,
    );
    assert.ok(html.length < 48 * 1024, `${html.length} bytes`);
  });
});
