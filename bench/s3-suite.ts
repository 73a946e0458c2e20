/**
 * `npm run bench -- --s3`: acihost on the S3 backend against the same
 * transfers made straight to Ceph RGW with the AWS SDK, in one run: push and
 * download MiB/s as ratios, and acihost's peak RSS during a 1 GiB push.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { loadConfig } from '../src/config/load.ts';
import { ACI_PATH, Bed } from './bed.ts';
import { Ceph } from './ceph.ts';
import { download, push, type Transfer } from './curl.ts';
import { bodyMember } from './images.ts';
import type { BenchOptions } from './options.ts';
import { peakRss, runPinned, SERVER_CORE } from './processes.ts';
import { figure, type Figure } from './report.ts';
import { BUCKET, deleteUnder, ensureBucket, s3Client, s3Env } from './s3-store.ts';
import { MiB } from './stats.ts';
import { inTurns } from './turns.ts';

const DIRECT = new URL('./s3-direct.ts', import.meta.url).pathname;

interface S3Bench {
  bed: Bed;
  ceph: Ceph;
  prefix: string;
  directPrefix: string;
  partSize: number;
  client: ReturnType<typeof s3Client>;
}

async function direct(b: S3Bench, args: string[]): Promise<Transfer> {
  const env = { ...process.env, ...b.bed.site.env, BENCH_S3_PART_SIZE: String(b.partSize) };
  const { stdout } = await runPinned(SERVER_CORE, process.execPath, [DIRECT, ...args], 600_000, env);
  const { bytes, seconds } = JSON.parse(stdout) as { bytes: number; seconds: number };
  return { status: 200, bytes, seconds };
}

/** Removes the image bytes a measured push stored (all blobs but the app's) and frees them in RGW. */
async function forgetPushed(b: S3Bench, keepBlob: string): Promise<void> {
  await deleteUnder(b.client, `${b.prefix}blobs/`, (key) => key.endsWith(keepBlob));
  await deleteUnder(b.client, b.directPrefix);
  await b.ceph.collectGarbage();
}

let versions = 0;

async function pushThroughAcihost(b: S3Bench, body: string, name: string, keepBlob: string): Promise<{ mibps: number; rssMiB: number }> {
  const { aci, asc, size } = await b.bed.image(body, name, `1.0.${versions++}`);
  try {
    peakRss.reset(b.bed.acihost.pid);
    const t = await push(b.bed.site.url, b.bed.caFile, b.bed.token, aci, asc);
    return { mibps: size / MiB / t.seconds, rssMiB: peakRss.read(b.bed.acihost.pid) / MiB };
  } finally {
    await rm(aci);
    await rm(asc);
    await forgetPushed(b, keepBlob);
  }
}

async function putDirect(b: S3Bench, body: string): Promise<{ mibps: number; rssMiB: number }> {
  const n = versions++;
  const { aci, asc } = await b.bed.image(body, 'localhost/bench/direct', `1.0.${n}`);
  try {
    const t = await direct(b, ['put', aci, `${b.directPrefix}${n}.aci`]);
    return { mibps: t.bytes / MiB / t.seconds, rssMiB: 0 };
  } finally {
    await rm(aci);
    await rm(asc);
    await deleteUnder(b.client, b.directPrefix);
    await b.ceph.collectGarbage();
  }
}

async function measure(b: S3Bench, opts: BenchOptions): Promise<Figure[]> {
  const { bed } = b;
  const keepBlob = await blobOfApp(b);
  const mibps = (ts: Transfer[]) => ts.map((t) => t.bytes / MiB / t.seconds);
  const figures: Figure[] = [];
  const size = `${opts.imageMiB} MiB`;

  bed.say(`bench: S3 push ${size}, signature first`);
  const body = await bodyMember(bed.cacheDir, opts.imageMiB, bed.say);
  const pushes = await inTurns(
    opts.runs,
    () => pushThroughAcihost(b, body, 'localhost/bench/push', keepBlob),
    () => putDirect(b, body),
  );
  const note = 'reference: the AWS SDK (lib-storage Upload / GetObject) straight to RGW, same part size';
  figures.push(
    figure(
      's3.push.rate',
      `S3 push ${size}`,
      'MiB/s',
      pushes.acihost.map((x) => x.mibps),
      pushes.reference.map((x) => x.mibps),
      undefined,
      note,
    ),
  );
  figures.push(
    figure(
      's3.push.rss',
      `S3 peak RSS, push ${size}`,
      'MiB',
      pushes.acihost.map((x) => x.rssMiB),
      undefined,
      { on: 'value', op: '<=', limit: 150 },
    ),
  );

  bed.say(`bench: S3 download ${size}`);
  const appKey = `${b.prefix}${keepBlob}`;
  const downloads = await inTurns(
    opts.runs,
    () => download(bed.site.url + ACI_PATH, bed.caFile),
    () => direct(b, ['get', appKey]),
  );
  figures.push(
    figure('s3.download.rate', `S3 download ${size}`, 'MiB/s', mibps(downloads.acihost), mibps(downloads.reference), undefined, note),
  );

  const large = `${opts.largeMiB >= 1024 ? `${opts.largeMiB / 1024} GiB` : `${opts.largeMiB} MiB`}`;
  bed.say(`bench: S3 push ${large}, signature first`);
  const largeBody = await bodyMember(bed.cacheDir, opts.largeMiB, bed.say);
  const big = await inTurns(
    opts.runs,
    () => pushThroughAcihost(b, largeBody, 'localhost/bench/push-large', keepBlob),
    () => putDirect(b, largeBody),
  );
  figures.push(
    figure(
      's3.push-large.rate',
      `S3 push ${large}`,
      'MiB/s',
      big.acihost.map((x) => x.mibps),
      big.reference.map((x) => x.mibps),
      undefined,
      note,
    ),
  );
  figures.push(
    figure(
      's3.push-large.rss',
      `S3 peak RSS, push ${large}`,
      'MiB',
      big.acihost.map((x) => x.rssMiB),
      undefined,
      { on: 'value', op: '<=', limit: 150 },
    ),
  );
  return figures;
}

/** The app's blob key (relative to the prefix), from its version record in the bucket. */
async function blobOfApp(b: S3Bench): Promise<string> {
  const res = await b.client.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: `${b.prefix}images/localhost/bench/app/_v/linux-amd64/1.0.0.json` }),
  );
  return (JSON.parse(await res.Body!.transformToString()) as { blob: string }).blob;
}

export async function runS3Suite(
  opts: BenchOptions,
  work: string,
  cacheDir: string,
  say: (line: string) => void,
  nodeArgs: string[] = [],
): Promise<Figure[]> {
  const ceph = await Ceph.ensure(work, say);
  const client = s3Client();
  const run = randomBytes(4).toString('hex');
  const prefix = `bench-${run}/`;
  const directPrefix = `bench-${run}-direct/`;
  let bed: Bed | undefined;
  try {
    await ensureBucket(client);
    const env = s3Env(prefix);
    const partSize = loadConfig({ env }).storage.s3.partSizeBytes;
    // A directory of its own: closing the bed removes it, while the cluster's state beside it lives on until stopped.
    bed = await Bed.create(join(work, 'bed'), cacheDir, opts.imageMiB, say, { nginx: false, env, nodeArgs });
    return await measure({ bed, ceph, prefix, directPrefix, partSize, client }, opts);
  } finally {
    await bed?.close(opts.keep);
    await deleteUnder(client, prefix).catch(() => undefined);
    await deleteUnder(client, directPrefix).catch(() => undefined);
    await ceph.collectGarbage().catch(() => undefined);
    client.destroy();
    await ceph.stop();
  }
}
