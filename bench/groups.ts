/**
 * Discovery, small files, downloads; each against nginx in the same run, on the
 * cores a row names: both servers on one core (the load on the other), or on two
 * (with nginx given a worker for each, and the load on the same two).
 */
import type { BenchOptions } from './options.ts';
import { against, figure, type Figure, type Target } from './report.ts';
import { ACI_PATH, DISCOVERY_PATH, type Bed } from './bed.ts';
import { download, downloadConcurrently, type Transfer } from './curl.ts';
import { nginxOn } from './nginx.ts';
import { NodeCeiling } from './node-ceiling.ts';
import { coresLabel, ONE_CORE, TWO_CORES, type Placement } from './processes.ts';
import { MiB } from './stats.ts';
import { inRotation, inTurns } from './turns.ts';
import { runWrk, type WrkResult } from './wrk.ts';

const NAME_COUNTS = [1, 1000, 10_000];

/** Ids of rows measured on two cores carry it; the one-core rows keep the ids they always had. */
const coresId = (p: Placement) => (p.cores === 1 ? '' : `.cores${p.cores}`);

async function wrkPair(bed: Bed, path: string, connections: number, opts: BenchOptions) {
  const load = bed.placement.load;
  return inTurns(
    opts.runs,
    () => runWrk(bed.site.url + path, connections, opts.seconds, load),
    () => runWrk(bed.nginxSite.url + path, connections, opts.seconds, load),
  );
}

const rates = (rs: WrkResult[]) => rs.map((r) => r.requestsPerSecond);
const floor = (limit: number): Target => ({ on: 'ratio', op: '>=', limit });

/** Rate, p50 and p99 of acihost against nginx on the bed's cores now. */
function wrkFigures(bed: Bed, id: string, label: string, r: { acihost: WrkResult[]; reference: WrkResult[] }, rateTarget?: Target) {
  const versus = nginxOn(bed.placement);
  return [
    against(versus, figure(`${id}.rate`, label, 'req/s', rates(r.acihost), rates(r.reference), rateTarget)),
    ...(['p50', 'p99'] as const).map((q) =>
      against(
        versus,
        figure(
          `${id}.${q}`,
          `${label} ${q}`,
          'ms',
          r.acihost.map((x) => x[q]),
          r.reference.map((x) => x[q]),
        ),
      ),
    ),
  ];
}

/**
 * Requests/s, p50 and p99 of discovery at c=1 and c=64 with 1, 1,000 and 10,000 names on
 * one core, and p50 growth with names; with 1 name also the Node ceilings on one core
 * and c=64 on two cores, where acihost runs a worker per core.
 */
export async function discovery(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  const p50At = new Map<string, number[]>();
  for (const names of NAME_COUNTS) {
    await bed.place(ONE_CORE);
    await bed.growCatalogue(names);
    const nameText = `${names.toLocaleString('en-US')} name${names === 1 ? '' : 's'}`;
    for (const c of [1, 64]) {
      bed.say(`bench: discovery, ${names} names, c=${c}, 1 core`);
      const r = await wrkPair(bed, DISCOVERY_PATH, c, opts);
      figures.push(...wrkFigures(bed, `discovery.n${names}.c${c}`, `discovery ${nameText}, c=${c}, 1 core`, r));
      p50At.set(
        `${names}:${c}`,
        r.acihost.map((x) => x.p50),
      );
      if (names === 1) figures.push(...(await ceiling(bed, c, opts)));
    }
    if (names === 1) {
      await bed.place(TWO_CORES);
      bed.say(`bench: discovery, 1 name, c=64, 2 cores`);
      const r = await wrkPair(bed, DISCOVERY_PATH, 64, opts);
      figures.push(...wrkFigures(bed, `discovery.n1.c64${coresId(TWO_CORES)}`, `discovery 1 name, c=64, 2 cores`, r, floor(0.5)));
    }
  }
  for (const c of [1, 64]) {
    const many = p50At.get(`10000:${c}`);
    const one = p50At.get(`1:${c}`);
    if (!many || !one) continue;
    // The same run's repetitions, paired in order: p50 with 10,000 names over p50 with 1.
    const growth = many.map((p, i) => p / one[i]!);
    figures.push(
      figure(`discovery.c${c}.p50-growth`, `discovery p50 at 10,000 names / at 1 name, c=${c}, 1 core`, '×', growth, undefined, {
        on: 'value',
        op: '<=',
        limit: 1.2,
      }),
    );
  }
  return figures;
}

/**
 * The Node ceiling at concurrency `c` on one core (bench/node-ceiling.ts), in rotation with
 * nginx and acihost: its rate and ratio to nginx, and acihost's rate against it, both
 * measured in the same minutes (on a shared machine the rate of a core drifts between
 * one group of runs and the next). At c=64 also the ceiling with acihost's access line
 * and metrics, the least a server with an access log does: acihost's floor. The
 * ceiling is one process, so it is measured on one core.
 */
async function ceiling(bed: Bed, c: number, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const accessLine of c === 64 ? [false, true] : [false]) {
    const id = accessLine ? 'ceiling-logged' : 'ceiling';
    const name = accessLine ? "Node ceiling with acihost's access line and metrics" : 'Node ceiling (bare node:https, the same page)';
    const label = `${name}, c=${c}, 1 core`;
    bed.say(`bench: ${label}`);
    const node = await NodeCeiling.start(bed, DISCOVERY_PATH, accessLine);
    try {
      const load = bed.placement.load;
      const [ceilingRuns, nginxRuns, acihostRuns] = (await inRotation(opts.runs, [
        () => runWrk(node.url + DISCOVERY_PATH, c, opts.seconds, load),
        () => runWrk(bed.nginxSite.url + DISCOVERY_PATH, c, opts.seconds, load),
        () => runWrk(bed.site.url + DISCOVERY_PATH, c, opts.seconds, load),
      ])) as [WrkResult[], WrkResult[], WrkResult[]];
      const ceilingRates = rates(ceilingRuns);
      const versus = nginxOn(bed.placement);
      figures.push(
        against(versus, figure(`${id}.c${c}.rate`, label, 'req/s', ceilingRates, rates(nginxRuns))),
        against(
          versus,
          figure(
            `${id}.c${c}.p99`,
            `${label} p99`,
            'ms',
            ceilingRuns.map((x) => x.p99),
            nginxRuns.map((x) => x.p99),
          ),
        ),
        against(
          accessLine ? 'Node ceiling with the access line, 1 core' : 'Node ceiling, 1 core',
          figure(
            `discovery.n1.c${c}.of-${id}`,
            `discovery 1 name, c=${c}, 1 core, against the ${accessLine ? 'ceiling with the access line' : 'bare ceiling'}`,
            'req/s',
            rates(acihostRuns),
            ceilingRates,
            accessLine ? floor(0.9) : undefined,
          ),
        ),
      );
    } finally {
      await node.stop();
    }
  }
  return figures;
}

/** The .aci.asc and a public key at c=64, on one core and on two. */
export async function smallFiles(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const placement of [ONE_CORE, TWO_CORES]) {
    await bed.place(placement);
    const cores = coresLabel(placement);
    for (const [id, label, path] of [
      ['asc', `.aci.asc c=64, ${cores}`, `${ACI_PATH}.asc`],
      ['key', `public key c=64, ${cores}`, bed.keyPath],
    ] as const) {
      bed.say(`bench: small files, ${label}`);
      const r = await wrkPair(bed, path, 64, opts);
      const [rate, , p99] = wrkFigures(bed, `small.${id}${coresId(placement)}`, label, r, placement.cores === 2 ? floor(0.5) : undefined);
      figures.push(rate!, p99!);
    }
  }
  return figures;
}

const mibps = (ts: Transfer[]) => ts.map((t) => t.bytes / MiB / t.seconds);

/**
 * The 256 MiB .aci, one stream and eight at once, on one core and on two; and on one
 * core a Range request for its second half (a resumed download).
 */
export async function downloads(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  const size = `${Math.round(bed.imageBytes / MiB)} MiB`;
  const half = `${Math.floor(bed.imageBytes / 2)}-`;
  const figures: Figure[] = [];
  for (const placement of [ONE_CORE, TWO_CORES]) {
    await bed.place(placement);
    const { load } = placement;
    const cores = coresLabel(placement);
    const versus = nginxOn(placement);
    for (const streams of [1, 8]) {
      const label = `download ${size}, ${streams} stream${streams === 1 ? '' : 's'}, ${cores}`;
      bed.say(`bench: ${label}`);
      const one = (url: string) =>
        streams === 1
          ? download(url + ACI_PATH, bed.caFile, undefined, load)
          : downloadConcurrently(url + ACI_PATH, bed.caFile, streams, load);
      const r = await inTurns(
        opts.runs,
        () => one(bed.site.url),
        () => one(bed.nginxSite.url),
      );
      figures.push(
        against(
          versus,
          figure(`download.${streams}${coresId(placement)}`, label, 'MiB/s', mibps(r.acihost), mibps(r.reference), floor(0.8)),
        ),
      );
    }
    if (placement.cores !== 1) continue;
    bed.say(`bench: download, Range ${half}, ${cores}`);
    const r = await inTurns(
      opts.runs,
      () => download(bed.site.url + ACI_PATH, bed.caFile, half, load),
      () => download(bed.nginxSite.url + ACI_PATH, bed.caFile, half, load),
    );
    figures.push(
      against(versus, figure('download.range', `download Range (second half), ${cores}`, 'MiB/s', mibps(r.acihost), mibps(r.reference))),
    );
  }
  return figures;
}
