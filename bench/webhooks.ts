/**
 * Webhook delivery figures: `node bench/webhooks.ts [--events N] [--rate R] [--fail P] [--replicas K]`.
 *
 * K registries (in this process) on one filesystem storage deliver N events, recorded R a
 * second, to a real HTTPS receiver that answers 500 to a share P of its requests (half by
 * default) and 200 to the rest. Reported: requests and deliveries a second while events
 * arrive, when 99% were delivered, and the delay from each event to its successful delivery
 * (p50, p90, p99, max), which the retry schedule (1 s, 2 s, 4 s... after each failure) bounds.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/logger.ts';
import { Registry, registrySettings } from '../src/registry/registry.ts';
import { CheckedStorage } from '../src/storage/checked-storage.ts';
import { FsStorage } from '../src/storage/fs-storage.ts';
import { tempDir } from '../test/helpers/temp-dir.ts';
import { startReceiver, type Received } from '../test/helpers/webhook-receiver.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    fail: { type: 'string', default: '0.5' },
    replicas: { type: 'string', default: '1' },
    'give-up-after': { type: 'string', default: '600' },
  },
});
const events = Number(values.events);
const rate = Number(values.rate);
const failShare = Number(values.fail);
const replicaCount = Number(values.replicas);
const giveUpAfterMs = Number(values['give-up-after']) * 1000;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const dir = await tempDir('acihost-bench-webhooks-');
  const storageDir = join(dir, 'storage');
  const receiver = await startReceiver({ plan: () => (Math.random() < failShare ? 500 : 200) });
  const secret = 'bench-secret-0123456789';
  receiver.secrets.set('/bench', secret);
  const config = loadConfig({
    env: { ACIHOST_PUBLIC_URL: 'https://localhost:8443', ACIHOST_STORAGE_DIR: storageDir, ACIHOST_LOG_LEVEL: 'silent' },
  });
  const settings = {
    ...registrySettings(config),
    webhooks: { ...config.webhooks, retryForSeconds: 3600, timeoutSeconds: 5, leaseSeconds: 30 },
  };
  const replicas: Registry[] = [];
  for (let i = 0; i < replicaCount; i++) {
    const registry = new Registry(new CheckedStorage(new FsStorage(storageDir)), settings, createLogger('silent'), {
      webhookCa: [receiver.caPem],
    });
    await registry.start();
    replicas.push(registry);
  }
  const first = replicas[0]!;
  await first.webhooks.add(
    {
      prefix: 'localhost',
      url: `${receiver.origin}/bench`,
      events: ['image.published'],
      secret,
      allowHttp: false,
      allowPrivateTarget: true,
    },
    'bench',
    'cli',
  );
  // The subscription hears of events from when it was made.
  await new Promise((r) => setTimeout(r, 50));

  const startedWall = Date.now();
  const started = performance.now();
  const recording: Promise<unknown>[] = [];
  for (let i = 0; i < events; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Spread over the replicas, as a load balancer would spread pushes; pushes do not wait for each other.
    const registry = replicas[i % replicas.length]!;
    recording.push(registry.audit.record({ actor: 'bench', action: 'push', name: `localhost/bench/app${i}`, result: 'created' }));
  }
  await Promise.all(recording);
  const recordedWall = Date.now();
  const deadline = Date.now() + giveUpAfterMs;
  while (receiver.accepted().size < events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));

  const firsts = [...receiver.accepted().values()].map((got) => got[0]!);
  const delayOf = (r: Received) => r.at - Date.parse(JSON.parse(r.body.toString()).time);
  const delays = firsts.map(delayOf).sort((a, b) => a - b);
  // Delivered by the first request sent for it: the latency without retries.
  const firstTry = firsts.filter(
    (r) => receiver.received.find((x) => x.headers['x-acihost-delivery'] === r.headers['x-acihost-delivery']) === r,
  );
  const windowSeconds = (recordedWall - startedWall) / 1000;
  const within = (rs: Received[]) => rs.filter((r) => r.at <= recordedWall).length;
  const arrivals = firsts.map((r) => r.at - startedWall).sort((a, b) => a - b);
  // Requests sent for each event not yet delivered: as many failures in a row as the schedule allowed so far.
  const triesOf = new Map<string, number>();
  for (const r of receiver.received)
    triesOf.set(String(r.headers['x-acihost-delivery']), (triesOf.get(String(r.headers['x-acihost-delivery'])) ?? 0) + 1);
  const pending = [...triesOf].filter(([id]) => !receiver.accepted().has(id)).map(([, n]) => n);
  const figures = {
    events,
    replicas: replicaCount,
    failShare,
    delivered: delays.length,
    pendingTries: pending,
    duplicates: [...receiver.accepted().values()].filter((got) => got.length > 1).length,
    requests: receiver.received.length,
    attemptsPerDelivery: +(receiver.received.length / Math.max(1, delays.length)).toFixed(2),
    requestsPerSecondWhileRecording: +(within(receiver.received) / windowSeconds).toFixed(1),
    deliveriesPerSecondWhileRecording: +(within(firsts) / windowSeconds).toFixed(1),
    secondsTo99PercentDelivered: +(percentile(arrivals, 99) / 1000).toFixed(1),
    delayMs: { p50: percentile(delays, 50), p90: percentile(delays, 90), p99: percentile(delays, 99), max: delays[delays.length - 1]! },
    firstTryDelayMs: {
      p50: percentile(
        firstTry.map(delayOf).sort((a, b) => a - b),
        50,
      ),
      share: +(firstTry.length / firsts.length).toFixed(2),
    },
  };
  process.stdout.write(
    `${events} events at ${rate}/s, ${replicaCount} replica(s), receiver failing ${failShare * 100}% of requests\n` +
      `  delivered ${figures.delivered} (${figures.duplicates} more than once), ${figures.requests} requests (${figures.attemptsPerDelivery} per delivery)` +
      `${pending.length ? `; still failing: ${pending.length}, after ${pending.join(', ')} requests` : ''}\n` +
      `  while events arrived: ${figures.requestsPerSecondWhileRecording} requests/s, ${figures.deliveriesPerSecondWhileRecording} deliveries/s; ` +
      `99% delivered ${figures.secondsTo99PercentDelivered} s after the first event\n` +
      `  delay to success: p50 ${seconds(figures.delayMs.p50)}, p90 ${seconds(figures.delayMs.p90)}, ` +
      `p99 ${seconds(figures.delayMs.p99)}, max ${seconds(figures.delayMs.max)}; ` +
      `first try (${figures.firstTryDelayMs.share * 100}%): p50 ${seconds(figures.firstTryDelayMs.p50)}\n` +
      JSON.stringify(figures) +
      '\n',
  );
  for (const r of replicas) await r.close();
  await receiver.close();
}

await main();
