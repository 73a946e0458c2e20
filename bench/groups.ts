/** Discovery, small files, downloads; each against nginx in the same run. */
import type { BenchOptions } from './options.ts';
import { figure, type Figure } from './report.ts';
import { ACI_PATH, DISCOVERY_PATH, type Bed } from './bed.ts';
import { download, downloadConcurrently, type Transfer } from './curl.ts';
import { NodeCeiling } from './node-ceiling.ts';
import { MiB, summarize } from './stats.ts';
import { inTurns } from './turns.ts';
import { runWrk, type WrkResult } from './wrk.ts';

const NAME_COUNTS = [1, 1000, 10_000];

async function wrkPair(bed: Bed, path: string, connections: number, opts: BenchOptions) {
  return inTurns(
    opts.runs,
    () => runWrk(bed.site.url + path, connections, opts.seconds),
    () => runWrk(bed.nginxSite.url + path, connections, opts.seconds),
  );
}

const rates = (rs: WrkResult[]) => rs.map((r) => r.requestsPerSecond);

/** Requests/s, p50 and p99 of discovery at c=1 and c=64 with 1, 1,000 and 10,000 names, and p50 growth with names. */
export async function discovery(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  const p50At = new Map<string, number[]>();
  for (const names of NAME_COUNTS) {
    await bed.growCatalogue(names);
    for (const c of [1, 64]) {
      bed.say(`bench: discovery, ${names} names, c=${c}`);
      const r = await wrkPair(bed, DISCOVERY_PATH, c, opts);
      const at = `${names.toLocaleString('en-US')} name${names === 1 ? '' : 's'}, c=${c}`;
      const rateTarget = { on: 'ratio', op: '>=', limit: c === 1 ? 0.9 : 0.55 } as const;
      const p99Target = { on: 'ratio', op: '<=', limit: c === 1 ? 2 : 3 } as const;
      figures.push(figure(`discovery.n${names}.c${c}.rate`, `discovery ${at}`, 'req/s', rates(r.acihost), rates(r.reference), rateTarget));
      figures.push(
        figure(
          `discovery.n${names}.c${c}.p50`,
          `discovery ${at} p50`,
          'ms',
          r.acihost.map((x) => x.p50),
          r.reference.map((x) => x.p50),
        ),
      );
      figures.push(
        figure(
          `discovery.n${names}.c${c}.p99`,
          `discovery ${at} p99`,
          'ms',
          r.acihost.map((x) => x.p99),
          r.reference.map((x) => x.p99),
          p99Target,
        ),
      );
      p50At.set(
        `${names}:${c}`,
        r.acihost.map((x) => x.p50),
      );
      if (names === 1) figures.push(...(await ceiling(bed, c, rates(r.acihost), opts)));
    }
  }
  for (const c of [1, 64]) {
    const many = p50At.get(`10000:${c}`);
    const one = p50At.get(`1:${c}`);
    if (!many || !one) continue;
    // The same run's repetitions, paired in order: p50 with 10,000 names over p50 with 1.
    const growth = many.map((p, i) => p / one[i]!);
    figures.push(
      figure(`discovery.c${c}.p50-growth`, `discovery p50 at 10,000 names / at 1 name, c=${c}`, '×', growth, undefined, {
        on: 'value',
        op: '<=',
        limit: 1.2,
      }),
    );
  }
  return figures;
}

/**
 * The Node ceiling at concurrency `c` (bench/node-ceiling.ts), in turns with nginx:
 * its rate and ratio to nginx, and acihost's rate as a share of it. At c=64 also the
 * ceiling with acihost's access line and metrics, the least a server with an access log does.
 */
async function ceiling(bed: Bed, c: number, acihostRates: number[], opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const accessLine of c === 64 ? [false, true] : [false]) {
    const id = accessLine ? 'ceiling-logged' : 'ceiling';
    const label = accessLine
      ? `Node ceiling with acihost's access line and metrics, c=${c}`
      : `Node ceiling (bare node:https, the same page), c=${c}`;
    bed.say(`bench: ${label}`);
    const node = await NodeCeiling.start(bed, DISCOVERY_PATH, accessLine);
    try {
      const r = await inTurns(
        opts.runs,
        () => runWrk(node.url + DISCOVERY_PATH, c, opts.seconds),
        () => runWrk(bed.nginxSite.url + DISCOVERY_PATH, c, opts.seconds),
      );
      const ceilingRates = rates(r.acihost);
      const { median } = summarize(ceilingRates);
      figures.push(
        figure(`${id}.c${c}.rate`, label, 'req/s', ceilingRates, rates(r.reference)),
        figure(
          `${id}.c${c}.p99`,
          `${label} p99`,
          'ms',
          r.acihost.map((x) => x.p99),
          r.reference.map((x) => x.p99),
        ),
        figure(
          `discovery.n1.c${c}.of-${id}`,
          `discovery 1 name, c=${c}, acihost / ${accessLine ? 'Node ceiling with the access line' : 'Node ceiling'}`,
          '×',
          acihostRates.map((x) => x / median),
        ),
      );
    } finally {
      await node.stop();
    }
  }
  return figures;
}

/** The .aci.asc and a public key at c=64. */
export async function smallFiles(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [id, label, path] of [
    ['asc', '.aci.asc c=64', `${ACI_PATH}.asc`],
    ['key', 'public key c=64', bed.keyPath],
  ] as const) {
    bed.say(`bench: small files, ${label}`);
    const r = await wrkPair(bed, path, 64, opts);
    figures.push(figure(`small.${id}.rate`, label, 'req/s', rates(r.acihost), rates(r.reference), { on: 'ratio', op: '>=', limit: 0.5 }));
    figures.push(
      figure(
        `small.${id}.p99`,
        `${label} p99`,
        'ms',
        r.acihost.map((x) => x.p99),
        r.reference.map((x) => x.p99),
      ),
    );
  }
  return figures;
}

const mibps = (ts: Transfer[]) => ts.map((t) => t.bytes / MiB / t.seconds);

/** The 256 MiB .aci: one stream, eight at once, and a Range request for its second half (a resumed download). */
export async function downloads(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const size = `${Math.round(bed.imageBytes / MiB)} MiB`;
  const target = { on: 'ratio', op: '>=', limit: 0.7 } as const;
  const half = `${Math.floor(bed.imageBytes / 2)}-`;
  const figures: Figure[] = [];
  bed.say(`bench: download ${size}, 1 stream`);
  let r = await inTurns(
    opts.runs,
    () => download(bed.site.url + ACI_PATH, bed.caFile),
    () => download(bed.nginxSite.url + ACI_PATH, bed.caFile),
  );
  figures.push(figure('download.1', `download ${size}, 1 stream`, 'MiB/s', mibps(r.acihost), mibps(r.reference), target));
  bed.say(`bench: download ${size}, 8 streams`);
  r = await inTurns(
    opts.runs,
    () => downloadConcurrently(bed.site.url + ACI_PATH, bed.caFile, 8),
    () => downloadConcurrently(bed.nginxSite.url + ACI_PATH, bed.caFile, 8),
  );
  figures.push(figure('download.8', `download ${size}, 8 streams`, 'MiB/s', mibps(r.acihost), mibps(r.reference), target));
  bed.say(`bench: download, Range ${half}`);
  r = await inTurns(
    opts.runs,
    () => download(bed.site.url + ACI_PATH, bed.caFile, half),
    () => download(bed.nginxSite.url + ACI_PATH, bed.caFile, half),
  );
  figures.push(figure('download.range', `download Range (second half)`, 'MiB/s', mibps(r.acihost), mibps(r.reference)));
  return figures;
}
