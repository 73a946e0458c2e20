/** From process start to the first successful discovery answer. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AcihostProcess, get, prepareSite, type Site } from './acihost.ts';
import { DISCOVERY_PATH, type Bed } from './bed.ts';
import type { BenchOptions } from './options.ts';
import { freePort, ONE_CORE, waitFor } from './processes.ts';
import { figure, type Figure } from './report.ts';

/** Seconds from spawn to a 200 on `path`, polling every 5 ms. */
async function coldStart(site: Site, path: string, bed: Bed): Promise<number> {
  const p = AcihostProcess.spawn(site, join(bed.work, 'cold-start.log'), bed.nodeArgs, bed.placement.server);
  let answeredAt = 0;
  try {
    await waitFor(
      `a discovery answer from a cold acihost`,
      async () => {
        const ok = (await get(site.url + path, bed.caPem, 2000)).status === 200;
        if (ok) answeredAt = performance.now();
        return ok;
      },
      30_000,
      5,
    );
  } finally {
    await p.stop();
  }
  return (answeredAt - p.spawnedAt) / 1000;
}

/** On one core (one process), as earlier releases were timed: how soon a restarted server answers. */
export async function coldStarts(bed: Bed, opts: BenchOptions): Promise<Figure[]> {
  await bed.place(ONE_CORE);
  const target = { on: 'value', op: '<=', limit: 1 } as const;
  const empty = await prepareSite(join(bed.work, 'empty'), await freePort(), bed.site.certsDir);
  bed.say('bench: cold start, empty storage');
  const emptyRuns: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    await rm(empty.storageDir, { recursive: true, force: true });
    emptyRuns.push(await coldStart(empty, '/?ac-discovery=1', bed));
  }
  await bed.growCatalogue(10_000);
  bed.say('bench: cold start, 10,000 names');
  await bed.acihost.stop();
  const fullRuns: number[] = [];
  try {
    for (let r = 0; r < opts.runs; r++) fullRuns.push(await coldStart(bed.site, DISCOVERY_PATH, bed));
  } finally {
    await bed.startAcihost();
  }
  return [
    figure('cold.empty', 'cold start to first discovery answer, empty storage, 1 core', 's', emptyRuns, undefined, target),
    figure('cold.names', 'cold start to first discovery answer, 10,000 names, 1 core', 's', fullRuns, undefined, target),
  ];
}
