/**
 * `npm run bench -- --retention`: retention over 10,000 versions on the filesystem backend.
 * `acihost retention plan` and `acihost retention apply` run as operators run them (the
 * production build, a fresh process each on the server core, the catalogue read from
 * storage first), timed from spawn to exit, with each process's peak RSS; and the plan
 * alone over an index already in memory, as the server's scheduled run makes it.
 * Every run seeds a fresh storage: applying removes 6,000 of the 10,000 versions.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/logger.ts';
import { serializeVersionRecord, type VersionRecord } from '../src/registry/catalog/version-record.ts';
import { Registry, registrySettings } from '../src/registry/registry.ts';
import { createStorage } from '../src/storage/create-storage.ts';
import { layout } from '../src/storage/layout.ts';
import { acihostCli, prepareSite, timedCommand, type Site } from './acihost.ts';
import type { BenchOptions } from './options.ts';
import { freePort } from './processes.ts';
import { figure, type Figure } from './report.ts';
import { MiB } from './stats.ts';

const NAMES = 500;
const VERSIONS_PER_NAME = 20;
const DAY_MS = 86_400_000;
// Per name: the five newest pushes stay, and three older x.0.0 releases by the pattern (4.0.0 is among the newest).
const POLICY = ['--prefix', 'localhost/fleet', '--keep', '5', '--protect', String.raw`^\d+\.0\.0$`];
const REMOVED = NAMES * 12;

/** 500 names of 20 versions (1.0.0 ... 4.4.0, one a day, the highest newest), each with a one-byte blob. */
async function seed(storageDir: string): Promise<void> {
  const writes: Promise<void>[] = [];
  const put = (key: string, body: Buffer) =>
    mkdir(dirname(join(storageDir, key)), { recursive: true }).then(() => writeFile(join(storageDir, key), body));
  for (let n = 0; n < NAMES; n++) {
    for (let j = 0; j < VERSIONS_PER_NAME; j++) {
      const record: VersionRecord = {
        name: `localhost/fleet/svc${n}`,
        version: `${Math.floor(j / 5) + 1}.${j % 5}.0`,
        os: 'linux',
        arch: 'amd64',
        imageId: 'sha512-' + '0'.repeat(128),
        digest: '0'.repeat(64),
        size: 64 * MiB,
        uncompressedSize: 128 * MiB,
        compression: 'gzip',
        signature: '',
        signer: '0'.repeat(40),
        tokenId: 'seed',
        pushedAt: new Date(Date.now() - (VERSIONS_PER_NAME - j) * DAY_MS).toISOString(),
        blob: `blobs/seed-${n}-${j}.aci`,
      };
      writes.push(put(layout.versionRecord(record), serializeVersionRecord(record)), put(record.blob, Buffer.alloc(1)));
      if (writes.length >= 512) await Promise.all(writes.splice(0));
    }
  }
  await Promise.all(writes);
}

/** The plan over an index in memory, as the server's scheduled run computes it (the catalogue loaded beforehand). */
async function planInMemory(site: Site): Promise<number> {
  const config = loadConfig({ env: site.env, file: site.configFile });
  const registry = new Registry(createStorage(config), registrySettings(config), createLogger('warn', process.stderr as never));
  try {
    await registry.catalog.load();
    await registry.retention.policies.list();
    const started = performance.now();
    const { removals } = await registry.retention.plan();
    const ms = performance.now() - started;
    if (removals.length !== REMOVED) throw new Error(`the plan removes ${removals.length} versions, not ${REMOVED}`);
    return ms;
  } finally {
    await registry.close();
  }
}

export async function runRetentionSuite(opts: BenchOptions, work: string, say: (line: string) => void): Promise<Figure[]> {
  const runs = { plan: [] as number[], planRss: [] as number[], apply: [] as number[], applyRss: [] as number[], memory: [] as number[] };
  for (let r = 0; r < opts.runs; r++) {
    const site = await prepareSite(join(work, `retention-${r}`), await freePort(), join(work, 'certs'));
    say(`bench: retention run ${r + 1} of ${opts.runs}: seeding ${NAMES * VERSIONS_PER_NAME} versions`);
    await seed(site.storageDir);
    await acihostCli(site, ['retention', 'set', ...POLICY]);
    runs.memory.push(await planInMemory(site));
    const plan = await timedCommand(site, ['retention', 'plan'], join(site.dir, 'plan-usage.json'));
    if (!plan.stderr.includes(`would remove ${REMOVED} versions`)) throw new Error(`unexpected plan: ${plan.stderr}`);
    const apply = await timedCommand(site, ['retention', 'apply'], join(site.dir, 'apply-usage.json'));
    if (!apply.stderr.includes(`removed ${REMOVED} versions`)) throw new Error(`unexpected apply: ${apply.stderr}`);
    say(
      `bench: plan ${plan.seconds.toFixed(2)} s (${plan.rssMiB.toFixed(0)} MiB), apply ${apply.seconds.toFixed(2)} s (${apply.rssMiB.toFixed(0)} MiB)`,
    );
    runs.plan.push(plan.seconds);
    runs.planRss.push(plan.rssMiB);
    runs.apply.push(apply.seconds);
    runs.applyRss.push(apply.rssMiB);
    if (!opts.keep) await rm(site.dir, { recursive: true, force: true });
  }
  const of = `${NAMES * VERSIONS_PER_NAME} versions`;
  const note = `${REMOVED} removed; the command reads the whole catalogue first`;
  return [
    figure(
      'retention.plan.memory',
      `retention plan, index in memory, ${of}`,
      'ms',
      runs.memory,
      undefined,
      undefined,
      'as the scheduled run',
    ),
    figure('retention.plan', `acihost retention plan, ${of}`, 's', runs.plan, undefined, undefined, note),
    figure('retention.plan.rss', `peak RSS, acihost retention plan, ${of}`, 'MiB', runs.planRss),
    figure('retention.apply', `acihost retention apply, ${of}`, 's', runs.apply, undefined, undefined, note),
    figure('retention.apply.rss', `peak RSS, acihost retention apply, ${of}`, 'MiB', runs.applyRss),
  ];
}
