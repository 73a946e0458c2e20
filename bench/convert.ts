/**
 * `npm run bench -- --convert`: converting a 1 GiB image of 5 layers from a local
 * distribution registry (Debian's docker-registry, plain HTTP on 127.0.0.1) into a
 * signed, published ACI with `acihost convert`, against the same image taken by
 * `skopeo copy` to an OCI layout followed by `umoci unpack`: each side fetches, checks
 * and unpacks every layer once (acihost also compresses the result, signs and publishes it). Both run on the server core, one after the other, in
 * each turn; acihost's peak RSS comes from the process itself at exit.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acihostCli, prepareSite, timedCommand } from './acihost.ts';
import type { BenchOptions } from './options.ts';
import { freePort, runPinned, SERVER_CORE, stopChild, waitFor } from './processes.ts';
import { figure, type Figure } from './report.ts';
import { MiB } from './stats.ts';

const run = promisify(execFile);
const LAYERS = 5;
const SECRET = 'bench-signing-secret-0123456789';

/**
 * The image: LAYERS layers of this machine's own files from /usr (libraries, programs, text),
 * as a distribution's image holds, TOTAL MiB in all; built once with umoci and kept.
 */
async function buildLayout(cacheDir: string, totalMiB: number, say: (line: string) => void): Promise<string> {
  const layout = join(cacheDir, `convert-usr-${totalMiB}MiB`);
  if (existsSync(join(layout, 'index.json'))) return layout;
  say(`bench: building a ${totalMiB} MiB image of ${LAYERS} layers of files from /usr with umoci in ${layout}`);
  await rm(layout, { recursive: true, force: true });
  await mkdir(cacheDir, { recursive: true });
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:big`]);
  const { stdout } = await run('find', ['/usr/lib', '/usr/share', '-type', 'f', '-printf', '%s %p\\n'], { maxBuffer: 256 * MiB });
  const files = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ size: Number(line.slice(0, line.indexOf(' '))), path: line.slice(line.indexOf(' ') + 1) }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const perLayer = (totalMiB * MiB) / LAYERS;
  let taken = 0;
  for (let l = 0; l < LAYERS; l++) {
    const list: string[] = [];
    for (let bytes = 0; bytes < perLayer && taken < files.length; taken++) {
      list.push(files[taken]!.path);
      bytes += files[taken]!.size;
    }
    const dir = join(cacheDir, `layer-${l}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(cacheDir, 'files'), list.join('\n'));
    await run('sh', ['-c', `tar -cf - -T ${join(cacheDir, 'files')} 2>/dev/null | tar -xf - -C ${dir}`]);
    await run('umoci', ['insert', '--image', `${layout}:big`, dir, '/']);
    await rm(dir, { recursive: true, force: true });
  }
  await run('umoci', ['config', '--image', `${layout}:big`, '--config.entrypoint', '/bin/true']);
  return layout;
}

async function startRegistry(dir: string, port: number): Promise<ChildProcess> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'registry.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error}',
      `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      '',
    ].join('\n'),
  );
  // The registry serves from the load core: both sides fetch from it alike.
  const child = spawn('taskset', ['-c', '1', 'docker-registry', 'serve', config], { stdio: 'ignore' });
  await waitFor('the registry', async () => (await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => null))?.ok === true, 20_000);
  return child;
}

export async function runConvertSuite(opts: BenchOptions, work: string, cacheDir: string, say: (line: string) => void): Promise<Figure[]> {
  const totalMiB = opts.largeMiB;
  const layout = await buildLayout(cacheDir, totalMiB, say);
  const port = await freePort();
  const registry = await startRegistry(join(work, 'registry'), port);
  const source = `127.0.0.1:${port}/bench/big:1`;
  const runs = { acihost: [] as number[], reference: [] as number[], rss: [] as number[] };
  try {
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:big`, `docker://${source}`]);
    const site = await prepareSite(join(work, 'acihost'), await freePort(), join(work, 'certs'), { ACIHOST_SIGNING_SECRET: SECRET });
    await acihostCli(site, ['key', 'generate', '--prefix', 'localhost/bench']);
    for (let r = 0; r < opts.runs; r++) {
      const copy = join(work, `copy-${r}`);
      const started = performance.now();
      await runPinned(SERVER_CORE, 'skopeo', ['copy', '--src-tls-verify=false', `docker://${source}`, `oci:${copy}:big`], 600_000);
      await runPinned(SERVER_CORE, 'umoci', ['unpack', '--image', `${copy}:big`, join(copy, 'bundle')], 600_000);
      const reference = (performance.now() - started) / 1000;
      await rm(copy, { recursive: true, force: true });
      // A new name each turn: the same version again would be converted, then found unchanged.
      const converted = await timedCommand(
        site,
        ['convert', `docker://${source}`, '--as', `localhost/bench/big-${r}`, '--insecure-http'],
        join(work, `usage-${r}.json`),
      );
      say(
        `bench: convert ${totalMiB} MiB: acihost ${converted.seconds.toFixed(1)} s (${converted.rssMiB.toFixed(0)} MiB RSS), skopeo copy + umoci unpack ${reference.toFixed(1)} s`,
      );
      runs.acihost.push(totalMiB / converted.seconds);
      runs.reference.push(totalMiB / reference);
      runs.rss.push(converted.rssMiB);
    }
  } finally {
    await stopChild(registry);
  }
  const what = `${totalMiB} MiB, ${LAYERS} layers`;
  return [
    figure(
      'convert.speed',
      `convert ${what}: acihost convert vs skopeo copy + umoci unpack`,
      'MiB/s',
      runs.acihost,
      runs.reference,
      { on: 'ratio', op: '>=', limit: 0.5 },
      'acihost also compresses, signs and publishes',
    ),
    figure('convert.rss', `peak RSS, acihost convert, ${what}`, 'MiB', runs.rss, undefined, { on: 'value', op: '<=', limit: 200 }),
  ];
}
