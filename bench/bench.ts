/**
 * `npm run bench`: acihost's production build against nginx on the same machine,
 * in the same run, or with `--s3` against the AWS SDK going straight to
 * Ceph RGW. Servers on core 0 and the load on core 1, or (rows saying "2 cores")
 * servers and load on both; TLS on 127.0.0.1, every load bounded in time, each
 * measurement repeated in turns (median and spread).
 * Prints a Markdown table and writes the figures as JSON.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI } from './acihost.ts';
import { Bed } from './bed.ts';
import { coldStarts } from './cold-start.ts';
import { chartSvg } from './chart.ts';
import { discovery, downloads, smallFiles } from './groups.ts';
import { parseBenchArgs, UsageError, type BenchOptions } from './options.ts';
import { LOAD_CORE } from './processes.ts';
import { pushes } from './push-group.ts';
import { loadAverage, machine, table, writeResults, type Figure } from './report.ts';
import { runS3Suite } from './s3-suite.ts';
import { runRetentionSuite } from './retention.ts';
import { runConvertSuite } from './convert.ts';
import { ensureTools } from './tools.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);
const CACHE_DIR = new URL('../.cache/bench/', import.meta.url).pathname;

async function nginxSuite(opts: BenchOptions, work: string): Promise<Figure[]> {
  say(`bench: setting up acihost and nginx in ${work}`);
  const bed = await Bed.create(work, CACHE_DIR, opts.imageMiB, say, { nginx: true, nodeArgs: profileArgs(opts) });
  const figures: Figure[] = [];
  try {
    // Pushes add names and cold starts restart the server: discovery first, then the rest.
    if (opts.only.has('discovery')) figures.push(...(await discovery(bed, opts)));
    if (opts.only.has('small')) figures.push(...(await smallFiles(bed, opts)));
    if (opts.only.has('download')) figures.push(...(await downloads(bed, opts)));
    if (opts.only.has('cold')) figures.push(...(await coldStarts(bed, opts)));
    if (opts.only.has('push')) figures.push(...(await pushes(bed, opts)));
  } finally {
    await bed.close(opts.keep);
    if (opts.keep) say(`bench: kept ${work}`);
  }
  return figures;
}

const profileArgs = (opts: BenchOptions) => (opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts.cpuProf)] : []);

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    say(e.message);
    return 2;
  }
  ensureTools(
    opts.convert
      ? ['taskset', 'docker-registry', 'skopeo', 'umoci']
      : opts.retention
        ? ['taskset']
        : opts.s3
          ? ['taskset', 'curl', 'gpg']
          : ['nginx', 'wrk', 'taskset', 'curl', 'gpg'],
    say,
  );
  if (!existsSync(CLI)) {
    say(`bench: ${CLI} is missing; run npm run build first (npm run bench does)`);
    return 1;
  }
  // This process only orchestrates and polls: keep it on the load core, off the one-core server's.
  execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  const loadBefore = loadAverage();
  if (loadBefore[0]! > 1) say(`bench: the machine is busy (load average ${loadBefore.join(' ')}); figures will be noisy`);
  const started = new Date();
  const work = await mkdtemp(join(tmpdir(), 'acihost-bench-'));
  let figures: Figure[];
  try {
    if (opts.retention) figures = await runRetentionSuite(opts, work, say);
    else if (opts.convert) figures = await runConvertSuite(opts, work, CACHE_DIR, say);
    else figures = opts.s3 ? await runS3Suite(opts, work, CACHE_DIR, say, profileArgs(opts)) : await nginxSuite(opts, work);
  } finally {
    // The S3 mode's cluster state (GiBs) lives beside the bed, which removes only its own directory.
    if (!opts.keep) await rm(work, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();
  // Retention is measured on its own: no other program does its work.
  const reference = opts.s3 ? 'SDK→RGW' : opts.retention ? '-' : opts.convert ? 'skopeo+umoci' : 'nginx';
  console.log(table(figures, reference));
  const results = {
    mode: opts.s3 ? 's3' : opts.retention ? 'retention' : opts.convert ? 'convert' : 'nginx',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadAfter },
    machine: machine(),
    options: { runs: opts.runs, seconds: opts.seconds, imageMiB: opts.imageMiB, largeMiB: opts.largeMiB, only: [...opts.only] },
    figures,
  };
  await writeResults(resolve(opts.out), results);
  const load = `load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`;
  // Retention's and conversion's figures are times and memory, which the chart of rates leaves out.
  if (opts.retention || opts.convert) {
    say(`bench: ${load}; results in ${opts.out}`);
    return 0;
  }
  const chart = resolve(opts.out).replace(/\.json$/, '') + '.svg';
  await writeFile(chart, chartSvg(figures, reference, `acihost against ${reference}, ${started.toISOString().slice(0, 10)}`));
  say(`bench: ${load}; results in ${opts.out}, chart in ${chart}`);
  return 0;
}

process.exitCode = await main();
