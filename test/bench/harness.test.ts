/**
 * A smoke test of the benchmark's own parts (bench/), fast and without load: the
 * images it pushes pass acihost's inspector, wrk's report is read right, figures
 * are judged against their targets, the nginx configuration is what nginx needs,
 * and the Node ceiling server answers with the page it was given.
 * The benchmark itself (npm run bench) is not part of the suite.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFragment } from 'parse5';
import type { DefaultTreeAdapterMap } from 'parse5';
import { writeBody, writeImage } from '../../bench/images.ts';
import { nginxConfig } from '../../bench/nginx.ts';
import { chartSvg } from '../../bench/chart.ts';
import { against, figure, table } from '../../bench/report.ts';
import { summarize } from '../../bench/stats.ts';
import { parseWrk } from '../../bench/wrk.ts';
import { parseBenchArgs, UsageError } from '../../bench/options.ts';
import { coresIn, freePort } from '../../bench/processes.ts';
import { inRotation } from '../../bench/turns.ts';
import { createInspector } from '../../src/aci/inspect.ts';
import { createTestCertificate } from '../../src/tls/dev-ca.ts';
import { httpsGet } from '../helpers/tls.ts';

type Element = DefaultTreeAdapterMap['element'];

const CEILING_SERVER = new URL('../../bench/node-ceiling-server.ts', import.meta.url).pathname;

const WRK_REPORT = `Running 3s test @ https://127.0.0.1:40000/bench/app?ac-discovery=1
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.73ms   15.10ms 218.00ms   97.12%
    Req/Sec     7.74k   512.33     8.20k    90.00%
  Latency Distribution
     50%  820.00us
     75%    1.02ms
     90%    1.50ms
     99%    1.10s
  23094 requests in 3.00s, 68.52MB read
  Non-2xx or 3xx responses: 2
Requests/sec:   7698.12
Transfer/sec:     22.84MB
`;

describe('benchmark harness', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('makes two-member gzip images that acihost inspects as one valid ACI, a different file per version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acihost-bench-test-'));
    dirs.push(dir);
    const body = join(dir, 'body.gz');
    await writeBody(body, 3 * 1024 * 1024 + 100);
    const results = [];
    for (const version of ['1.0.0', '1.0.1']) {
      const aci = join(dir, `${version}.aci`);
      await writeImage(aci, body, 'localhost/bench/app', version);
      const inspector = createInspector({ maxUncompressedBytes: 2 ** 30, maxEntries: 100, maxManifestBytes: 65536, maxPathBytes: 4096 });
      await pipeline(createReadStream(aci), inspector.sink);
      results.push(await inspector.result);
    }
    for (const [i, r] of results.entries()) {
      assert.equal(r.manifest.name, 'localhost/bench/app');
      assert.equal(r.manifest.labels?.find((l) => l.name === 'version')?.value, `1.0.${i}`);
      assert.equal(r.compression, 'gzip');
      assert.equal(r.entries, 2 + 1); // manifest, rootfs, one 3 MiB file
    }
    assert.notEqual(results[0]!.imageId, results[1]!.imageId);
  });

  it("reads wrk's report, counting non-2xx answers as errors", () => {
    const r = parseWrk(WRK_REPORT);
    assert.equal(r.requestsPerSecond, 7698.12);
    assert.ok(Math.abs(r.p50 - 0.82) < 1e-9);
    assert.equal(r.p99, 1100);
    assert.equal(r.requests, 23094);
    assert.equal(r.errors, 2);
    assert.throws(() => parseWrk('unable to connect'), /unreadable report/);
  });

  it('summarizes runs by median and spread, and judges ratios and values against targets', () => {
    assert.deepEqual(summarize([3, 1, 2]), { runs: [3, 1, 2], median: 2, spread: 1 });
    const rate = figure('x', 'x', 'req/s', [50, 60, 55], [100, 100, 100], { on: 'ratio', op: '>=', limit: 0.55 });
    assert.equal(rate.ratio, 0.55);
    assert.equal(rate.met, true);
    const rss = figure('y', 'y', 'MiB', [151, 140, 160], undefined, { on: 'value', op: '<=', limit: 150 });
    assert.equal(rss.met, false);
    const text = table([rate, rss], 'nginx');
    assert.match(text, /\| x \(req\/s\) +\| 55 +\| 100 +\| 0\.55× +\| ratio ≥ 0\.55 \| yes/);
    assert.match(text, /\| y \(MiB\) +\| 151 .*\| ≤ 150 +\| NO/);
  });

  it("names each row's reference in a column of its own when rows have different ones", () => {
    const nginx = against('nginx, 2 workers, 2 cores', figure('a', 'a', 'req/s', [50], [100], { on: 'ratio', op: '>=', limit: 0.5 }));
    const self = against('acihost, 1 core', figure('b', 'b', 'MiB/s', [150], [100], { on: 'ratio', op: '>=', limit: 1.4 }));
    const alone = figure('c', 'c', 's', [0.4]);
    const text = table([nginx, self, alone], 'nginx');
    assert.match(text, /^\| figure +\| acihost \| reference \| reference is +\| ratio/);
    assert.match(text, /\| a \(req\/s\) +\| 50 +\| 100 +\| nginx, 2 workers, 2 cores \| 0\.50× \| ratio ≥ 0\.5 +\| yes/);
    assert.match(text, /\| b \(MiB\/s\) +\| 150 +\| 100 +\| acihost, 1 core +\| 1\.50× \| ratio ≥ 1\.4 +\| yes/);
    assert.match(text, /\| c \(s\) +\| 0\.40 +\| +\| +\| +\|/);
    assert.match(chartSvg([nginx, self], 'nginx', 't'), /b \(MiB\/s\), vs acihost, 1 core/);
  });

  it('rotates contenders so each run starts with the next one, and counts the cores of a CPU list', async () => {
    const order: string[] = [];
    const out = await inRotation(
      3,
      ['a', 'b', 'c'].map((x) => async () => (order.push(x), x)),
    );
    assert.deepEqual(order.join(''), 'abcbcacab');
    assert.deepEqual(out, [
      ['a', 'a', 'a'],
      ['b', 'b', 'b'],
      ['c', 'c', 'c'],
    ]);
    assert.deepEqual(['1', '0,1', '0-3', '0-1,4'].map(coresIn), [1, 2, 4, 3]);
  });

  it('draws the rates as an SVG chart of ratios: a bar per compared rate, to scale, labels escaped', () => {
    const half = figure('a', 'half <&> as fast', 'req/s', [50], [100], { on: 'ratio', op: '>=', limit: 0.9 });
    const twice = figure('b', 'twice as fast', 'MiB/s', [200], [100]);
    const alone = figure('c', 'no reference', 'req/s', [120]);
    const latency = figure('d', 'a latency', 'ms', [2], [1]);
    const svg = chartSvg([half, twice, alone, latency], 'nginx', 'acihost against nginx');
    const root = parseFragment(svg).childNodes.find((n) => n.nodeName === 'svg') as unknown as Element;
    const all = (node: Element, name: string): Element[] =>
      (node.childNodes ?? []).flatMap((c) => [...(c.nodeName === name ? [c as Element] : []), ...all(c as Element, name)]);
    const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;
    const bars = all(root, 'rect').filter((r) => attr(r, 'class') === 'bar');
    assert.equal(bars.length, 2, 'rates with a reference have a bar; others do not');
    assert.ok(Math.abs(Number(attr(bars[1]!, 'width')) / Number(attr(bars[0]!, 'width')) - 4) < 0.01, 'bars to scale');
    assert.equal(all(root, 'line').filter((l) => attr(l, 'class') === 'target').length, 1);
    assert.equal(all(root, 'line').filter((l) => attr(l, 'class') === 'reference').length, 1);
    assert.match(svg, /half &lt;&amp;&gt; as fast \(req\/s\)/);
    assert.doesNotMatch(svg, /<&>/);
  });

  it('takes --retention as a run of its own, with its own results file', () => {
    const opts = parseBenchArgs(['--retention', '--runs', '2']);
    assert.deepEqual([opts.retention, opts.s3, opts.runs, opts.out], [true, false, 2, 'bench/results/latest-retention.json']);
    assert.equal(parseBenchArgs([]).retention, false);
    assert.throws(() => parseBenchArgs(['--retention', '--s3']), UsageError);
  });

  it('configures nginx with TLS, the static tree, a PUT location, a buffered access log and a worker per core', () => {
    const site = { dir: '/w/nginx', port: 4443, url: 'https://127.0.0.1:4443', www: '/w/nginx/www', certFile: '', keyFile: '' };
    const conf = nginxConfig(site, '/c/server.pem', '/c/key.pem');
    assert.match(conf, /listen 127\.0\.0\.1:4443 ssl;/);
    assert.match(conf, /ssl_certificate \/c\/server\.pem;/);
    assert.match(conf, /worker_processes 1;/);
    assert.match(nginxConfig(site, '/c/server.pem', '/c/key.pem', 2), /worker_processes 2;/);
    assert.match(conf, /access_log \/w\/nginx\/access\.log combined buffer=64k flush=1s;/);
    assert.match(conf, /location \/-\/put\/ \{[^}]*dav_methods PUT;[^}]*client_max_body_size 0;/);
    assert.match(conf, /root \/w\/nginx\/www;/);
  });

  for (const accessLine of [false, true]) {
    it(`runs the Node ceiling server${accessLine ? ' with the access line' : ''}: the same body and headers for every request`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'acihost-bench-test-'));
      dirs.push(dir);
      const { caPem, certPem, keyPem } = await createTestCertificate(['127.0.0.1']);
      const body = Buffer.from('<html>page</html>');
      const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), answer: join(dir, 'answer.json') };
      await writeFile(files.cert, certPem);
      await writeFile(files.key, keyPem);
      const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-length': String(body.length) };
      const path = '/bench/app?ac-discovery=1';
      await writeFile(files.answer, JSON.stringify({ path, headers, body: body.toString('base64') }));
      const port = await freePort();
      const args = [CEILING_SERVER, String(port), files.cert, files.key, files.answer, ...(accessLine ? ['--access-line'] : [])];
      const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await once(server.stderr!, 'data');
        for (const p of [path, '/anything']) {
          const res = await httpsGet(`https://127.0.0.1:${port}${p}`, { ca: caPem });
          assert.equal(res.status, 200);
          assert.ok(res.body.equals(body));
          assert.equal(res.headers['content-type'], headers['content-type']);
          assert.equal(res.headers['cache-control'], 'no-cache');
        }
      } finally {
        server.kill('SIGTERM');
        await once(server, 'exit');
      }
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      // acihost's line for the page it stands in for, one per request.
      assert.deepEqual(
        lines.map((l) => [l.msg, l.route, l.url, l.status, l.tokenId, l.service]),
        accessLine ? Array(2).fill(['request completed', '/*', path, 200, null, 'acihost']) : [],
      );
      if (accessLine)
        assert.deepEqual(
          lines.map((l) => l.reqId),
          ['req-1', 'req-2'],
        );
    });
  }
});
