import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { readAudit } from '../helpers/audit.ts';
import { aciPath, startMirror, type MirrorFixture } from '../helpers/mirror-fixture.ts';
import { STANDARD_IMAGES } from '../helpers/oci-images.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { acfetch, eventually } from '../helpers/trust.ts';
import { buildSmallImage, pushIndex, pushLayout } from '../helpers/upstream-registry.ts';

interface Conversion {
  id: string;
  status: string;
  name: string;
  images: { name: string; version: string; os: string; arch: string; imageId: string; outcome: string }[];
  skipped: { platform: string; reason: string }[];
  error: { code: string } | null;
}

describe('conversions by name: POST /-/api/conversions and acihost convert', () => {
  let f: MirrorFixture;
  let ca: string;
  let token: string;
  let pushOnly: string;

  const post = (body: unknown, t = token, headers: Record<string, string> = {}) =>
    httpsRequest(`${f.setup.origin}/-/api/conversions`, {
      ca,
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', ...headers },
      body: Buffer.from(JSON.stringify(body)),
    });
  const answer = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as { conversion: Conversion; error?: { code: string } };
  const code = (res: { body: Buffer }) => (JSON.parse(res.body.toString()) as { error: { code: string } }).error.code;

  before(async () => {
    f = await startMirror({
      keys: ['localhost/mirror', 'localhost/team'],
      upstreams: (u) => [
        { source: `${u.host}/library/*`, prefix: 'localhost/mirror/library', caFile: u.caFile },
        { source: `${u.host}/ci/*`, prefix: 'localhost/team/ci', caFile: u.caFile, pullThrough: false },
      ],
    });
    ca = await readFile(f.setup.caFile, 'utf8');
    token = (await f.setup.cli(['token', 'create', '--prefix', 'localhost/team', '--scope', 'convert'])).stdout.trim();
    pushOnly = (await f.setup.cli(['token', 'create', '--prefix', 'localhost/team', '--scope', 'push'])).stdout.trim();
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.full, 'ci/app:1.0', { format: 'v2s2' });
  });
  after(async () => f?.close());

  it('converts with one call into a signed version that rkt fetches, and again answers 200 unchanged', async () => {
    const res = await post({ source: `${f.upstream.host}/ci/app:1.0` });
    assert.equal(res.status, 201, res.body.toString());
    const { conversion } = answer(res);
    assert.equal(conversion.status, 'done');
    assert.deepEqual(
      conversion.images.map((i) => [i.name, i.version, i.os, i.arch, i.outcome]),
      [['localhost/team/ci/app', '1.0', 'linux', 'amd64', 'created']],
    );
    assert.equal(res.headers.location, `/-/api/conversions/${conversion.id}`);
    const fetched = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, ['localhost/team/ci/app:1.0']);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(fetched.stdout.trim(), conversion.images[0]!.imageId);
    const page = (await httpsRequest(`${f.setup.origin}/team/ci/app`, { ca })).body.toString();
    assert.match(page, /<h2 id="conversions">Conversions<\/h2>/);
    assert.match(page, new RegExp(`<code>docker://${f.upstream.host}/ci/app:1.0</code> \\([^)]+\\): published 1\\.0 linux/amd64`));
    const verified = await f.setup.cli(['verify', '--prefix', 'localhost/team']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const again = await post({ source: `docker://${f.upstream.host}/ci/app:1.0` });
    assert.equal(again.status, 200, again.body.toString());
    assert.equal(answer(again).conversion.images[0]!.outcome, 'unchanged');
    const events = (await readAudit(f.setup.storageDir)).filter((e) => e.action === 'convert');
    assert.deepEqual(
      events.map((e) => [e.name, e.result, e.detail?.source]),
      [
        ['localhost/team/ci/app', 'created', `docker://${f.upstream.host}/ci/app:1.0`],
        ['localhost/team/ci/app', 'unchanged', `docker://${f.upstream.host}/ci/app:1.0`],
      ],
    );
  });

  it('names the versions by "as", and shows progress and result at its URL when asked to answer at once', async () => {
    const res = await post({ source: `${f.upstream.host}/ci/app:1.0`, as: 'localhost/team/renamed' }, token, { prefer: 'respond-async' });
    assert.equal(res.status, 202, res.body.toString());
    const url = String(res.headers.location);
    const watch = () => httpsRequest(f.setup.origin + url, { ca, headers: { authorization: `Bearer ${token}` } });
    const done = await eventually(watch, (r) => answer(r).conversion.status !== 'running', 20_000);
    assert.equal(answer(done).conversion.status, 'done');
    assert.equal(answer(done).conversion.images[0]!.name, 'localhost/team/renamed');
    const stranger = await httpsRequest(f.setup.origin + url, { ca, headers: { authorization: `Bearer ${pushOnly}` } });
    assert.equal(stranger.status, 404);
  });

  it('converts every platform of an index that appc can name, and lists the others', async () => {
    const images = [];
    for (const platform of [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'windows', architecture: 'amd64' },
    ]) {
      images.push({
        ...(await buildSmallImage({ files: { [`/etc/${platform.architecture}`]: platform.os }, platform, entrypoint: ['/bin/true'] })),
        platform,
      });
    }
    await pushIndex(f.upstream, 'ci/multi', '3.1', images, { format: 'oci' });
    const res = await post({ source: `${f.upstream.host}/ci/multi:3.1` });
    assert.equal(res.status, 201, res.body.toString());
    const { conversion } = answer(res);
    assert.deepEqual(conversion.images.map((i) => `${i.os}/${i.arch}`).sort(), ['linux/aarch64', 'linux/amd64']);
    assert.deepEqual(
      conversion.skipped.map((s) => s.platform),
      ['windows/amd64'],
    );
    assert.equal((await httpsRequest(f.setup.origin + aciPath('localhost/team/ci/multi', '3.1', 'aci', 'aarch64'), { ca })).status, 200);
  });

  it('refuses what the token, the allow-list or the request does not allow, naming the problem', async () => {
    const scope = await post({ source: `${f.upstream.host}/ci/app:1.0` }, pushOnly);
    assert.equal(scope.status, 403);
    assert.equal(code(scope), 'TOKEN_SCOPE_MISSING');
    const elsewhere = await post({ source: `${f.upstream.host}/ci/app:1.0`, as: 'localhost/mirror/app' });
    assert.equal(elsewhere.status, 403);
    const notAllowed = await post({ source: `${f.upstream.host}/private/app:1.0` });
    assert.equal(notAllowed.status, 403);
    assert.equal(code(notAllowed), 'UPSTREAM_NOT_ALLOWED');
    const bad = await post({ source: 'no registry here' });
    assert.equal(bad.status, 422);
    assert.equal(code(bad), 'UPSTREAM_REFERENCE_INVALID');
    const shape = await post({ as: 'localhost/team/app' });
    assert.equal(shape.status, 422);
    assert.equal(code(shape), 'CONVERSION_REQUEST_INVALID');
    const missing = await post({ source: `${f.upstream.host}/ci/app:7.7` });
    assert.equal(missing.status, 404);
    assert.equal(code(missing), 'UPSTREAM_NOT_FOUND');
    const anonymous = await httpsRequest(`${f.setup.origin}/-/api/conversions`, {
      ca,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{}'),
    });
    assert.equal(anonymous.status, 401);
  });

  it('keeps names of a rule without pull-through from converting on request', async () => {
    const res = await httpsRequest(f.setup.origin + aciPath('localhost/team/ci/app', '2.0'), { ca });
    assert.equal(res.status, 404);
    assert.equal(code(res), 'IMAGE_NOT_FOUND');
  });

  it('acihost convert takes any source on the command line, prints the versions, and needs a signing key', async () => {
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.namedUser, 'outside/tool:0.3', { format: 'oci' });
    const source = `docker://${f.upstream.host}/outside/tool:0.3`;
    const json = await f.setup.cli(['convert', source, '--as', 'localhost/team/tool', '--ca-file', f.upstream.caFile, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const record = JSON.parse(json.stdout) as Conversion;
    assert.deepEqual(
      record.images.map((i) => [i.name, i.version, i.outcome]),
      [['localhost/team/tool', '0.3', 'created']],
    );
    const text = await f.setup.cli(['convert', source, '--as', 'localhost/team/tool', '--ca-file', f.upstream.caFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^already published localhost\/team\/tool version 0\.3 linux\/amd64 image sha512-[0-9a-f]{128}$/m);
    const untrusted = await f.setup.cli(['convert', source, '--as', 'localhost/team/tool2']);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /UPSTREAM_TLS_FAILED|certificate/);
    const unnamed = await f.setup.cli(['convert', source, '--ca-file', f.upstream.caFile]);
    assert.notEqual(unnamed.code, 0);
    assert.match(unnamed.stderr, /--as/);
    const nokey = await f.setup.cli(['convert', source, '--as', 'localhost/nokey/tool', '--ca-file', f.upstream.caFile]);
    assert.notEqual(nokey.code, 0);
    assert.match(nokey.stderr, /acihost key generate --prefix/);
  });
});
