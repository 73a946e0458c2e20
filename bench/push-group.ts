/**
 * Signed pushes with the documented curl recipe (full validation and signature
 * check): against nginx's plain PUT of the same file on the same cores, and acihost
 * on two cores against acihost on one (one push, and several at once), with the
 * peak RSS of the largest process during each transfer (acihost's supervisor or a
 * worker; an nginx worker).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bed } from './bed.ts';
import { push, put } from './curl.ts';
import { nginxOn } from './nginx.ts';
import { bodyMember } from './images.ts';
import type { BenchOptions } from './options.ts';
import { coresLabel, ONE_CORE, peakRssOfAll, TWO_CORES, type Placement } from './processes.ts';
import { against, figure, type Figure, type Target } from './report.ts';
import { MiB } from './stats.ts';
import { inRotation, inTurns } from './turns.ts';

interface PushRun {
  mibps: number;
  rssMiB: number;
}

let versions = 0;

const size = (mib: number) => (mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`);
const RSS_CEILING: Target = { on: 'value', op: '<=', limit: 150 };
const PUT_NOTE = 'reference: nginx dav_methods PUT of the same file (no checks)';
const nginxPutOn = (p: Placement) => nginxOn(p).replace(/^nginx/, 'nginx PUT');
const acihostOn = (p: Placement) => `acihost, ${coresLabel(p)}`;

/** `count` pushes of `name`-0, `name`-1, ... started at once; MiB/s is all their bytes over the wall time. */
async function acihostPushes(bed: Bed, body: string, name: string, imageFirst: boolean, count = 1): Promise<PushRun> {
  const images = [];
  for (let i = 0; i < count; i++) images.push(await bed.image(body, count === 1 ? name : `${name}-${i}`, `1.0.${versions++}`));
  const pids = bed.acihost.pids;
  try {
    peakRssOfAll.reset(pids);
    const started = performance.now();
    await Promise.all(images.map(({ aci, asc }) => push(bed.site.url, bed.caFile, bed.token, aci, asc, imageFirst, bed.placement.load)));
    const seconds = (performance.now() - started) / 1000;
    const bytes = images.reduce((sum, i) => sum + i.size, 0);
    return { mibps: bytes / MiB / seconds, rssMiB: peakRssOfAll.read(pids) / MiB };
  } finally {
    for (const { aci, asc } of images) {
      await rm(aci);
      await rm(asc);
    }
  }
}

async function nginxPut(bed: Bed, body: string): Promise<PushRun> {
  const n = versions++;
  const { aci, asc, size } = await bed.image(body, 'localhost/bench/put', `1.0.${n}`);
  const workers = bed.nginx.workerPids;
  try {
    peakRssOfAll.reset(workers);
    const t = await put(`${bed.nginxSite.url}/-/put/${n}.aci`, bed.caFile, aci, bed.placement.load);
    return { mibps: size / MiB / t.seconds, rssMiB: peakRssOfAll.read(workers) / MiB };
  } finally {
    await rm(aci);
    await rm(asc);
    await rm(join(bed.nginxSite.dir, '-', 'put', `${n}.aci`), { force: true });
  }
}

const mibps = (rs: PushRun[]) => rs.map((r) => r.mibps);
const rss = (rs: PushRun[]) => rs.map((r) => r.rssMiB);

/** MiB/s and peak RSS of acihost's pushes against nginx's PUT of the same files on `p`'s cores. */
function againstPut(p: Placement, id: string, label: string, acihost: PushRun[], nginx: PushRun[], rssTarget?: Target): Figure[] {
  const versus = nginxPutOn(p);
  const where = `${label}, ${coresLabel(p)}`;
  const peak = p.cores === 1 ? 'peak RSS' : 'peak RSS per process';
  return [
    against(versus, figure(`${id}.rate`, where, 'MiB/s', mibps(acihost), mibps(nginx), undefined, PUT_NOTE)),
    against(versus, figure(`${id}.rss`, `${peak}, ${where}`, 'MiB', rss(acihost), rss(nginx), rssTarget)),
  ];
}

export async function pushes(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  /** Runs `measure` with both servers on `p`'s cores (restarting them if they run elsewhere). */
  const on = (p: Placement, measure: () => Promise<PushRun>) => async () => {
    await bed.place(p);
    return measure();
  };

  // One push on one core and on two, and nginx's PUT on one, in rotation.
  let body = await bodyMember(bed.cacheDir, opts.imageMiB, bed.say);
  let label = `push ${size(opts.imageMiB)}, signature first`;
  bed.say(`bench: ${label}, 1 and 2 cores`);
  const [one, two, nginxOne] = await inRotation(opts.runs, [
    on(ONE_CORE, () => acihostPushes(bed, body, 'localhost/bench/push', false)),
    on(TWO_CORES, () => acihostPushes(bed, body, 'localhost/bench/push', false)),
    on(ONE_CORE, () => nginxPut(bed, body)),
  ]);
  figures.push(
    ...againstPut(ONE_CORE, 'push.image', label, one!, nginxOne!, RSS_CEILING),
    against(
      acihostOn(ONE_CORE),
      figure('push.image.cores2.rate', `${label}, 2 cores`, 'MiB/s', mibps(two!), mibps(one!), { on: 'ratio', op: '>=', limit: 1.4 }),
    ),
    against(
      acihostOn(ONE_CORE),
      figure('push.image.cores2.rss', `peak RSS per process, ${label}, 2 cores`, 'MiB', rss(two!), rss(one!), RSS_CEILING),
    ),
  );

  // The image part first: its signature is checked afterwards, from the staged file.
  label = `push ${size(opts.imageMiB)}, image first`;
  bed.say(`bench: ${label}, 1 core`);
  await bed.place(ONE_CORE);
  let r = await inTurns(
    opts.runs,
    () => acihostPushes(bed, body, 'localhost/bench/push-image-first', true),
    () => nginxPut(bed, body),
  );
  figures.push(...againstPut(ONE_CORE, 'push.image-first', label, r.acihost, r.reference));

  // Several pushes at once, which a worker per core can take in parallel.
  const each = opts.imageMiB / 2;
  const count = 4;
  body = await bodyMember(bed.cacheDir, each, bed.say);
  label = `${count} pushes of ${size(each)} at once, signature first`;
  bed.say(`bench: ${label}, 2 cores against 1`);
  r = await inTurns(
    opts.runs,
    on(TWO_CORES, () => acihostPushes(bed, body, 'localhost/bench/push-many', false, count)),
    on(ONE_CORE, () => acihostPushes(bed, body, 'localhost/bench/push-many', false, count)),
  );
  figures.push(
    against(
      acihostOn(ONE_CORE),
      figure('push.concurrent.cores2.rate', `${label}, 2 cores`, 'MiB/s', mibps(r.acihost), mibps(r.reference), {
        on: 'ratio',
        op: '>=',
        limit: 1.5,
      }),
    ),
  );

  // The large push on two cores, as the default configuration runs: each process's memory.
  body = await bodyMember(bed.cacheDir, opts.largeMiB, bed.say);
  label = `push ${size(opts.largeMiB)}, signature first`;
  bed.say(`bench: ${label}, 2 cores`);
  await bed.place(TWO_CORES);
  r = await inTurns(
    opts.runs,
    () => acihostPushes(bed, body, 'localhost/bench/push-large', false),
    () => nginxPut(bed, body),
  );
  figures.push(...againstPut(TWO_CORES, 'push.large.cores2', label, r.acihost, r.reference, RSS_CEILING));
  const large = rss(r.acihost);
  const small = rss(two!);
  figures.push(
    figure(
      'push.rss-growth',
      `peak RSS per process, ${size(opts.largeMiB)} push / ${size(opts.imageMiB)} push, 2 cores`,
      '×',
      large.map((l, i) => l / small[i]!),
      undefined,
      {
        on: 'value',
        op: '<=',
        limit: 1.15,
      },
    ),
  );
  return figures;
}
