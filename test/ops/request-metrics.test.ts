/**
 * The request metrics made from tallies (src/ops/metrics/request-metrics.ts) read exactly
 * as prom-client's own Counter and Histogram would for the same requests, and the
 * access log (src/http/access-log.ts) writes every line of a turn, in order, even
 * past the number it keeps for one write, and through the logger's own file
 * descriptor in order with the logger's other lines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { AccessLog } from '../../src/http/access-log.ts';
import { createLogger } from '../../src/logger.ts';
import { RequestMetrics } from '../../src/ops/metrics/request-metrics.ts';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The sample lines of the series whose names start with `prefix`, sorted (the order of series is not part of the format). */
async function series(registry: Registry, prefix: string): Promise<string[]> {
  return (await registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .sort();
}

describe('request metrics from tallies', () => {
  // Latencies on, either side of and far past the bucket bounds, and across statuses of one route.
  const requests = [
    { method: 'GET', route: '/*', status: 200, seconds: 0.0001, sent: 5171, received: 400 },
    { method: 'GET', route: '/*', status: 200, seconds: 0.005, sent: 5171, received: 120 },
    { method: 'GET', route: '/*', status: 404, seconds: 0.0051, sent: 300, received: 120 },
    { method: 'POST', route: '/-/push', status: 201, seconds: 2.5, sent: 900, received: 268_435_456 },
    { method: 'POST', route: '/-/push', status: 400, seconds: 0.3, sent: 700, received: 1000 },
    { method: 'GET', route: '/-/aci/*', status: 200, seconds: 301, sent: 1_073_741_824, received: 90 },
  ];

  it('reads as prom-client would count and observe the same requests', async () => {
    const tallied = new Registry();
    const metrics = new RequestMetrics(tallied);
    for (const r of requests) metrics.add(metrics.tally(r.method, r.route, r.status), r.seconds, r.sent, r.received);
    metrics.fromMemory = 2;

    const reference = new Registry();
    const registers = [reference];
    const requestsTotal = new Counter({
      name: 'acihost_http_requests_total',
      help: 'x',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    const latency = new Histogram({
      name: 'acihost_http_request_duration_seconds',
      help: 'x',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const sent = new Counter({ name: 'acihost_http_sent_bytes_total', help: 'x', labelNames: ['route'], registers });
    const received = new Counter({ name: 'acihost_http_received_bytes_total', help: 'x', labelNames: ['route'], registers });
    const fromMemory = new Counter({ name: 'acihost_http_memory_answers_total', help: 'x', registers });
    for (const r of requests) {
      requestsTotal.inc({ method: r.method, route: r.route, status: String(r.status) });
      latency.observe({ method: r.method, route: r.route }, r.seconds);
      sent.inc({ route: r.route }, r.sent);
      received.inc({ route: r.route }, r.received);
    }
    fromMemory.inc(2);

    const expected = await series(reference, 'acihost_http_');
    assert.equal(expected.length, 5 + 3 * 17 + 3 + 3 + 1);
    assert.deepEqual(await series(tallied, 'acihost_http_'), expected);
    // And the types and help lines are there for each.
    const text = await tallied.metrics();
    assert.match(text, /^# TYPE acihost_http_request_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE acihost_http_requests_total counter$/m);
  });

  it('keeps counting after a scrape, from the same tallies', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry);
    const t = metrics.tally('GET', '/*', 200);
    assert.equal(metrics.tally('GET', '/*', 200), t, 'one tally per method, route and status');
    metrics.add(t, 0.001, 10, 1);
    await registry.metrics();
    metrics.add(t, 0.001, 10, 1);
    const lines = await series(registry, 'acihost_http_');
    assert.ok(lines.includes('acihost_http_requests_total{method="GET",route="/*",status="200"} 2'), lines.join('\n'));
    assert.ok(lines.includes('acihost_http_request_duration_seconds_count{method="GET",route="/*"} 2'));
    assert.ok(lines.includes('acihost_http_sent_bytes_total{route="/*"} 20'));
  });
});

describe('access log batching', () => {
  /** A log destination that keeps what is written to it, write by write. */
  const capture = () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    return { chunks, sink };
  };

  it('writes every line of one turn in order, past the lines kept for one write', async () => {
    const { chunks, sink } = capture();
    const logger = pino({ base: { service: 'acihost' } }, sink);
    const log = new AccessLog(new RequestMetrics(new Registry()), logger);
    const kind = log.kind('GET', '/*', '/web/app?ac-discovery=1', 200);
    const count = 10_000;
    for (let i = 0; i < count; i++)
      log.record(kind, { reqId: `req-${i}`, ms: i % 7, socket: undefined, tokenId: i % 2 ? 'tok1' : null, ip: '10.0.0.1' });
    assert.ok(chunks.length >= 2, 'a full batch is written at once, within the turn');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const lines = chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, count);
    lines.forEach((line, i) => {
      assert.equal(line.reqId, `req-${i}`);
      assert.equal(line.ms, i % 7);
      assert.equal(line.tokenId, i % 2 ? 'tok1' : null);
      assert.equal(line.ip, '10.0.0.1');
      assert.equal(line.url, '/web/app?ac-discovery=1');
      assert.equal(line.msg, 'request completed');
      assert.equal(line.service, 'acihost');
    });
  });

  it('writes what is pending when the app closes', async () => {
    const { chunks, sink } = capture();
    const app = Fastify();
    const log = new AccessLog(new RequestMetrics(new Registry()), pino(sink));
    log.observe(app);
    await app.ready();
    log.record(log.kind('GET', '/*', '/', 200), { reqId: 'req-last', ms: 1, socket: undefined, tokenId: null, ip: undefined });
    const closed = app.close();
    assert.equal(chunks.length, 0);
    await closed;
    assert.equal(JSON.parse(chunks.join('')).reqId, 'req-last');
  });

  it("writes to the logger's file descriptor in order with the logger's own lines, as UTF-8", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'acihost-log-')), 'server.log');
    // What the server logs to by default (standard output), here on a file.
    const logger = createLogger('info', pino.destination({ dest: file, sync: true }));
    const log = new AccessLog(new RequestMetrics(new Registry()), logger);
    const kind = log.kind('GET', '/*', '/caf\u00e9/app?ac-discovery=1', 200);
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const exchange = (reqId: string) => ({ reqId, ms: 1, socket: undefined, tokenId: null, ip: '10.0.0.1' });
    logger.info('before');
    log.record(kind, exchange('req-1'));
    log.record(kind, exchange('req-2'));
    await turn();
    logger.info('between');
    log.record(kind, exchange('req-3'));
    await turn();
    logger.info('after');
    const lines = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => (l.msg === 'request completed' ? l.reqId : l.msg)),
      ['before', 'req-1', 'req-2', 'between', 'req-3', 'after'],
    );
    assert.equal(lines[1].url, '/caf\u00e9/app?ac-discovery=1');
    assert.equal(lines[1].service, 'acihost');
  });

  it('logs to standard output synchronously by default', () => {
    const stream = (createLogger('info') as unknown as Record<symbol, { fd?: number; sync?: boolean }>)[pino.symbols.streamSym]!;
    assert.equal(stream.fd, 1);
    assert.equal(stream.sync, true);
  });

  it('records once a response whose connection closed before it finished: its status, or 499 before any', async () => {
    const { chunks, sink } = capture();
    const app = Fastify();
    const metrics = new RequestMetrics(new Registry());
    new AccessLog(metrics, pino(sink)).observe(app);
    // A body that never ends, and an answer that never comes: the client hangs up on both.
    app.get('/stream', async () => {
      const body = new Readable({ read() {} });
      body.push('x'.repeat(1000));
      return body;
    });
    app.get('/slow', () => new Promise(() => undefined));
    // A body that fails once sent: Fastify runs onResponse on the response's error, and then it closes unfinished.
    app.get('/broken', async () => {
      const body = new Readable({ read() {} });
      body.push('x'.repeat(1000));
      setTimeout(() => body.destroy(new Error('broken')), 10);
      return body;
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    try {
      const hangUp = async (path: string, when: 'first byte' | 'sent') => {
        const req = httpRequest({ host: '127.0.0.1', port, path });
        // The hang-up is the client's own: its "socket hang up" is expected.
        req.on('error', () => undefined);
        if (when === 'first byte') req.on('response', (res) => res.once('data', () => req.destroy()));
        else req.on('finish', () => setTimeout(() => req.destroy(), 50));
        req.end();
        await new Promise((resolve) => req.once('close', resolve));
      };
      await hangUp('/stream', 'first byte');
      await hangUp('/slow', 'sent');
      await hangUp('/broken', 'sent');
      const lines = async () => {
        for (let i = 0; i < 100 && chunks.join('').split('\n').filter(Boolean).length < 3; i++) await new Promise((r) => setTimeout(r, 20));
        return chunks
          .join('')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
      };
      assert.deepEqual(
        (await lines()).map((l) => [l.url, l.route, l.status]),
        [
          ['/stream', '/stream', 200],
          ['/slow', '/slow', 499],
          ['/broken', '/broken', 200],
        ],
      );
    } finally {
      await app.close();
    }
    // Still one line each once everything has settled.
    assert.equal(chunks.join('').split('\n').filter(Boolean).length, 3);
  });
});
