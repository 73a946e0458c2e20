/** The command line of `npm run bench -- [options]`. */
import { parseArgs } from 'node:util';

export const GROUPS = ['discovery', 'small', 'download', 'push', 'cold'] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchOptions {
  /** Which of the five measurement groups run (all by default). */
  only: Set<Group>;
  /** The S3 mode instead of the nginx comparison: acihost on Ceph RGW against the SDK going direct. */
  s3: boolean;
  /** Retention's plan and apply over 10,000 versions instead (bench/retention.ts). */
  retention: boolean;
  /** Converting a 1 GiB image from a registry instead, against skopeo copy + umoci unpack (bench/convert.ts). */
  convert: boolean;
  /** Repetitions of every measurement (the median is reported). */
  runs: number;
  /** Seconds of each wrk load. */
  seconds: number;
  /** Sizes of the big images (MiB): the download/push image and the large push. */
  imageMiB: number;
  largeMiB: number;
  out: string;
  keep: boolean;
  /** Directory for V8 CPU profiles of every acihost process (node --cpu-prof), or undefined. */
  cpuProf?: string;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only GROUP[,GROUP...]] [--s3 | --retention | --convert] [--runs N] [--seconds S] [--out FILE] [--keep]
  GROUP: ${GROUPS.join(', ')} (default: all)
  --quick     1 run of each, 3 s loads, 64 MiB and 256 MiB images (for trying the harness; not for the README)
  --s3        S3 mode: push and download through acihost on Ceph RGW against the AWS SDK straight to RGW
  --retention retention plan and apply over 10,000 versions on the filesystem: time and peak RSS
  --convert   acihost convert of a 1 GiB, 5-layer image (256 MiB with --quick) against skopeo copy + umoci unpack
  --runs N    repetitions of each measurement, median reported (default 3)
  --seconds S length of each wrk load (default 8)
  --out FILE  JSON results (default bench/results/latest.json, latest-s3.json with --s3, latest-retention.json with --retention, latest-convert.json with --convert)
  --keep      keep the work directory (storage, logs, nginx config) for inspection
  --cpu-prof DIR  run acihost under node --cpu-prof, profiles into DIR (one per process; see bench/profile-top.ts)`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      s3: { type: 'boolean', default: false },
      retention: { type: 'boolean', default: false },
      convert: { type: 'boolean', default: false },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError(USAGE);
  const only = new Set<Group>();
  for (const g of (values.only ?? GROUPS.join(',')).split(',').map((s) => s.trim())) {
    if (!(GROUPS as readonly string[]).includes(g)) throw new UsageError(`unknown group ${JSON.stringify(g)}\n${USAGE}`);
    only.add(g as Group);
  }
  const positive = (text: string | undefined, fallback: number, what: string) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive whole number, not ${JSON.stringify(text)}`);
    return n;
  };
  if ([values.s3, values.retention, values.convert].filter(Boolean).length > 1) {
    throw new UsageError(`--s3, --retention and --convert are separate runs; give one\n${USAGE}`);
  }
  const quick = values.quick;
  return {
    only,
    s3: values.s3,
    retention: values.retention,
    convert: values.convert,
    runs: positive(values.runs, quick ? 1 : 3, '--runs'),
    seconds: positive(values.seconds, quick ? 3 : 8, '--seconds'),
    imageMiB: quick ? 64 : 256,
    largeMiB: quick ? 256 : 1024,
    out: values.out ?? `bench/results/latest${values.s3 ? '-s3' : values.retention ? '-retention' : values.convert ? '-convert' : ''}.json`,
    keep: values.keep,
    cpuProf: values['cpu-prof'],
  };
}

export class UsageError extends Error {}
