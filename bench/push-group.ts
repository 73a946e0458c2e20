/**
 * Signed pushes with the documented curl recipe (full
 * validation and signature check) against nginx's plain PUT of the same file, with
 * each server's peak RSS during the transfer.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bed } from './bed.ts';
import { push, put } from './curl.ts';
import { bodyMember } from './images.ts';
import type { BenchOptions } from './options.ts';
import { peakRss } from './processes.ts';
import { figure, type Figure } from './report.ts';
import { MiB } from './stats.ts';
import { inTurns } from './turns.ts';

interface PushRun {
  mibps: number;
  rssMiB: number;
}

let versions = 0;

async function acihostPush(bed: Bed, body: string, name: string, imageFirst: boolean): Promise<PushRun> {
  const { aci, asc, size } = await bed.image(body, name, `1.0.${versions++}`);
  try {
    peakRss.reset(bed.acihost.pid);
    const t = await push(bed.site.url, bed.caFile, bed.token, aci, asc, imageFirst);
    return { mibps: size / MiB / t.seconds, rssMiB: peakRss.read(bed.acihost.pid) / MiB };
  } finally {
    await rm(aci);
    await rm(asc);
  }
}

async function nginxPut(bed: Bed, body: string): Promise<PushRun> {
  const n = versions++;
  const { aci, asc, size } = await bed.image(body, 'localhost/bench/put', `1.0.${n}`);
  const worker = bed.nginx.workerPid;
  try {
    peakRss.reset(worker);
    const t = await put(`${bed.nginxSite.url}/-/put/${n}.aci`, bed.caFile, aci);
    return { mibps: size / MiB / t.seconds, rssMiB: peakRss.read(worker) / MiB };
  } finally {
    await rm(aci);
    await rm(asc);
    await rm(join(bed.nginxSite.dir, '-', 'put', `${n}.aci`), { force: true });
  }
}

export async function pushes(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const cases = [
    { id: 'push.image', mib: opts.imageMiB, name: 'localhost/bench/push', imageFirst: false },
    { id: 'push.large', mib: opts.largeMiB, name: 'localhost/bench/push-large', imageFirst: false },
    { id: 'push.image-first', mib: opts.imageMiB, name: 'localhost/bench/push-image-first', imageFirst: true },
  ];
  const figures: Figure[] = [];
  const rss = new Map<string, number[]>();
  for (const c of cases) {
    const body = await bodyMember(bed.cacheDir, c.mib, bed.say);
    const size = c.mib >= 1024 ? `${c.mib / 1024} GiB` : `${c.mib} MiB`;
    const order = c.imageFirst ? 'image first' : 'signature first';
    bed.say(`bench: push ${size}, ${order}`);
    const r = await inTurns(
      opts.runs,
      () => acihostPush(bed, body, c.name, c.imageFirst),
      () => nginxPut(bed, body),
    );
    const rateTarget = c.id === 'push.image' ? ({ on: 'ratio', op: '>=', limit: 0.2 } as const) : undefined;
    const note = 'reference: nginx dav_methods PUT of the same file (no checks)';
    figures.push(
      figure(
        `${c.id}.rate`,
        `push ${size}, ${order}`,
        'MiB/s',
        r.acihost.map((x) => x.mibps),
        r.reference.map((x) => x.mibps),
        rateTarget,
        note,
      ),
    );
    const rssTarget = c.imageFirst ? undefined : ({ on: 'value', op: '<=', limit: 150 } as const);
    figures.push(
      figure(
        `${c.id}.rss`,
        `peak RSS, push ${size}, ${order}`,
        'MiB',
        r.acihost.map((x) => x.rssMiB),
        r.reference.map((x) => x.rssMiB),
        rssTarget,
      ),
    );
    rss.set(
      c.id,
      r.acihost.map((x) => x.rssMiB),
    );
  }
  const small = rss.get('push.image')!;
  const large = rss.get('push.large')!;
  figures.push(
    figure(
      'push.rss-growth',
      `peak RSS, ${opts.largeMiB} MiB push / ${opts.imageMiB} MiB push`,
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
