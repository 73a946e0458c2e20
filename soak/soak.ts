/**
 * The soak: mixed traffic at a steady rate against one acihost process, then a
 * check of every promise. `npm run soak -- 10m` (default 60s).
 *
 * Traffic: discovery, downloads with and without ranges, pushes of new versions,
 * acpush uploads, API listing, bad requests, uploads aborted mid-image (curl-style
 * pushes and acpush image PUTs), and anonymous floods of page values and junk
 * queries over a catalogue of many pages. Afterwards:
 * zero 5xx, every published image re-downloaded and hashed, RSS flat after
 * warm-up (under 10% growth), no file descriptor growth, no scratch left.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { buildAci } from '../test/helpers/aci-builder.ts';
import { acpush } from '../test/helpers/acpush-client.ts';
import { seedRecords, versionRecord } from '../test/helpers/records.ts';
import { serverSetup, spawnServer } from '../test/helpers/server.ts';
import { parseDuration } from '../src/config/duration.ts';
import { Metrics, type Op } from './metrics.ts';

const durationText = process.argv[2] ?? '60s';
const DURATION_MS = (parseDuration(durationText) ?? Number.NaN) * 1000;
if (!Number.isFinite(DURATION_MS)) {
  console.error(`usage: npm run soak -- DURATION (such as 60s or 10m), not ${JSON.stringify(durationText)}`);
  process.exit(2);
}
const RATE_PER_SECOND = 40;
const MAX_IN_FLIGHT = 16;
const SAMPLE_EVERY_MS = 1000;
// Traffic before the measured duration: V8 sizes its heap to the load in the first tens of seconds.
const WARM_UP_MS = 120_000;
// Names seeded under localhost/fleet (and so under /): pages of names that page floods aim at.
const FLEET = 600;
const FLEET_PAGES = FLEET / 50;
// Requests in one page flood operation, each a URL never asked for before.
const PAGE_BURST = 8;

interface Published {
  path: string;
  sha256: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-soak-'));
  const setup = await serverSetup({
    dir,
    // One token sends every upload here, more at once than a CI job would: the soak is about what lasts, not that limit.
    config: { limits: { maxConcurrentUploadsPerToken: 64 } },
    env: { ACIHOST_LOG_LEVEL: 'warn' },
  });
  const { origin, caFile } = setup;
  const cli = async (args: string[]) => {
    const r = await setup.cli(args);
    if (r.code !== 0) throw new Error(`acihost ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'rsa',
    rsaBits: 3072,
    userIDs: [{ name: 'soak', email: 'soak@localhost' }],
    format: 'object',
  });
  await writeFile(join(dir, 'soak.asc'), publicKey.armor());
  await cli(['key', 'add', '--prefix', 'localhost/soak', join(dir, 'soak.asc')]);
  // Records only (no blobs are fetched for them): what makes the pages of names worth caching.
  await seedRecords(
    join(dir, 'storage'),
    Array.from({ length: FLEET }, (_, i) => versionRecord(`localhost/fleet/service-${i}-of-the-fleet-with-a-descriptive-name`, {}, i)),
  );
  const token = (await cli(['token', 'create', '--prefix', 'localhost/soak'])).split('\n')[0]!;
  const server = await spawnServer(setup);
  const ca = await readFile(caFile, 'utf8');
  const metrics = new Metrics();
  const published: Published[] = [];
  let version = 0;

  const sign = async (aci: Buffer) =>
    (await openpgp.sign({
      message: await openpgp.createMessage({ binary: aci }),
      signingKeys: privateKey,
      detached: true,
      format: 'armored',
    })) as string;

  /** One HTTPS exchange; `abortAfter` destroys the request after that many body bytes. */
  const http = (method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer; abortAfter?: number } = {}) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request(origin + path, { method, ca, headers: opts.headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (opts.abortAfter !== undefined && opts.body) {
        req.write(opts.body.subarray(0, opts.abortAfter));
        setTimeout(() => req.destroy(), 50);
        resolve({ status: 0, body: Buffer.alloc(0) });
        return;
      }
      req.end(opts.body);
    });

  const multipart = (asc: string, aci: Buffer) => {
    const b = 'soakboundary' + Math.random().toString(16).slice(2);
    const part = (name: string, file: string) =>
      `--${b}\r\nContent-Disposition: form-data; name="${name}"; filename="${file}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    return {
      type: `multipart/form-data; boundary=${b}`,
      body: Buffer.concat([
        Buffer.from(part('asc', 'a.aci.asc') + asc + '\r\n'),
        Buffer.from(part('aci', 'a.aci')),
        aci,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]),
    };
  };

  const newImage = async () => {
    const v = `1.0.${version++}`;
    const aci = await buildAci({
      name: 'localhost/soak/app',
      version: v,
      entries: [{ name: 'rootfs/payload', body: Buffer.alloc(64 * 1024 + version, version % 251) }],
    });
    return { v, aci, asc: await sign(aci) };
  };
  const auth = { authorization: `Bearer ${token}` };
  const basic = { authorization: `Basic ${Buffer.from(`soak:${token}`).toString('base64')}` };
  let pageFloods = 0;
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];

  const operations: [Op, number, () => Promise<number>][] = [
    [
      'discovery',
      30,
      async () => (await http('GET', pick(['/soak/app?ac-discovery=1', '/soak?ac-discovery=1', '/?ac-discovery=1'])!)).status,
    ],
    [
      'download',
      12,
      async () => {
        const p = pick(published);
        if (!p) return 200;
        const r = await http('GET', p.path);
        if (r.status === 200 && sha256(r.body) !== p.sha256) throw new Error(`corrupt download of ${p.path}`);
        return r.status;
      },
    ],
    [
      'range',
      8,
      async () => {
        const p = pick(published);
        return p ? (await http('GET', p.path, { headers: { range: 'bytes=100-4195' } })).status : 206;
      },
    ],
    [
      'push',
      6,
      async () => {
        const { v, aci, asc } = await newImage();
        const { type, body } = multipart(asc, aci);
        const r = await http('POST', '/-/push', { headers: { ...auth, 'content-type': type }, body });
        // A valid push must land; a refusal is a broken promise, not a status to count.
        if (r.status !== 201) throw new Error(`a valid push was refused: ${r.status} ${r.body.toString().slice(0, 200)}`);
        published.push({ path: `/-/aci/localhost/soak/app/${v}/linux/amd64.aci`, sha256: sha256(aci) });
        return r.status;
      },
    ],
    [
      'acpush',
      4,
      async () => {
        const { v, aci, asc } = await newImage();
        const r = await acpush({
          origin,
          ca,
          aci,
          asc: Buffer.from(asc),
          name: 'localhost/soak/app',
          version: v,
          auth: { basic: { user: 'soak', password: token } },
        });
        if (r.exitCode !== 0) throw new Error(`a valid acpush upload was refused: ${r.stderr}`);
        published.push({ path: `/-/aci/localhost/soak/app/${v}/linux/amd64.aci`, sha256: sha256(aci) });
        return 200;
      },
    ],
    ['api', 10, async () => (await http('GET', '/-/api/images?prefix=localhost/soak&limit=20')).status],
    [
      'pages',
      10,
      async () => {
        // Anonymous and distinct every time: page values mostly past the last page, zero-padded ones, junk parameters.
        for (let i = 0; i < PAGE_BURST; i++) {
          const n = pageFloods++;
          const query = pick([
            `page=${FLEET_PAGES + 1 + ((n * 7919) % 9_000_000)}`,
            `ac-discovery=1&page=${'0'.repeat(1 + (n % 6))}${1 + (n % FLEET_PAGES)}&n=${n}`,
            `ac-discovery=1&utm_source=${n}`,
          ])!;
          const r = await http('GET', `${pick(['/', '/fleet'])!}?${query}`);
          if (r.status !== 200) return r.status;
        }
        return 200;
      },
    ],
    [
      'bad',
      20,
      async () => {
        const bad = pick([
          () => http('POST', '/-/push', { headers: { authorization: 'Bearer acih_nope' } }),
          () => http('GET', '/-/aci/localhost/soak/none/1.0.0/linux/amd64.aci'),
          () => http('GET', '/no/such/path?ac-discovery=1'),
          () =>
            http('POST', '/-/push', {
              headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
              body: Buffer.from(
                '--x\r\nContent-Disposition: form-data; name="aci"; filename="a"\r\n\r\nnot an archive at all, not even close.....\r\n--x--\r\n',
              ),
            }),
        ])!;
        const r = await bad();
        return r.status;
      },
    ],
    [
      'aborted',
      10,
      async () => {
        const { aci, asc } = await newImage();
        const { type, body } = multipart(asc, aci);
        await http('POST', '/-/push', { headers: { ...auth, 'content-type': type }, body, abortAfter: Math.floor(body.length / 2) });
        return 0;
      },
    ],
    [
      'acpush-aborted',
      6,
      async () => {
        // An acpush upload whose client hangs up in the middle of the image PUT.
        const { v, aci } = await newImage();
        const start = await http('POST', `/-/acpush/start/localhost/soak/app/${v}/linux/amd64.aci`, { headers: basic });
        if (start.status !== 200) throw new Error(`an acpush start was refused: ${start.status} ${start.body.toString().slice(0, 200)}`);
        const imageUrl = new URL(JSON.parse(start.body.toString()).upload_aci_url as string);
        await http('PUT', imageUrl.pathname, { headers: basic, body: aci, abortAfter: Math.floor(aci.length / 2) });
        return 0;
      },
    ],
  ];
  const totalWeight = operations.reduce((s, [, w]) => s + w, 0);
  const chooseOp = () => {
    let x = Math.random() * totalWeight;
    for (const op of operations) if ((x -= op[1]) < 0) return op;
    return operations[0]!;
  };

  console.log(
    `soak: ${WARM_UP_MS / 1000}s warm-up, then ${durationText} of mixed traffic at ${RATE_PER_SECOND}/s against pid ${server.child.pid} (${origin})`,
  );
  // Seed a few images so downloads have something to fetch from the start.
  for (let i = 0; i < 3; i++) await operations.find(([op]) => op === 'push')![2]();

  const start = Date.now();
  let inFlight = 0;
  // Samples are taken after the warm-up only; the RSS and fd verdicts compare its start with its end.
  const sampler = setInterval(() => {
    if (Date.now() - start >= WARM_UP_MS) void metrics.sample(server.child.pid!, Date.now() - start);
  }, SAMPLE_EVERY_MS);
  const pending = new Set<Promise<void>>();
  for (let n = 0; Date.now() - start < WARM_UP_MS + DURATION_MS; n++) {
    const due = start + (n * 1000) / RATE_PER_SECOND;
    if (due > Date.now()) await sleep(due - Date.now());
    if (inFlight >= MAX_IN_FLIGHT) {
      metrics.skipped++;
      continue;
    }
    const [op, , run] = chooseOp();
    inFlight++;
    const began = performance.now();
    const p = run()
      .then((status) => metrics.record(op, status, performance.now() - began))
      .catch((e: unknown) => metrics.failure(op, e))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  await Promise.all(pending);
  clearInterval(sampler);
  await sleep(1000); // aborted uploads finish failing on the server
  await metrics.sample(server.child.pid!, Date.now() - start);

  let corrupt = 0;
  for (const p of published) {
    const r = await http('GET', p.path);
    if (r.status !== 200 || sha256(r.body) !== p.sha256) corrupt++;
  }
  const scratch = (await readdir(join(dir, 'storage', 'tmp'), { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) =>
    e.isFile(),
  ).length;
  await server.stop();
  await rm(dir, { recursive: true, force: true });
  // The server's own error lines explain any failure below.
  for (const line of server
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"level":50'))
    .slice(0, 5))
    console.log(`server error: ${line.slice(0, 2000)}`);

  return metrics.report({ published: published.length, corrupt, scratch });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('soak: failed to run:', e);
    process.exit(1);
  },
);
