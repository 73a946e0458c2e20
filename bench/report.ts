/** Figures, their targets, the printed table, the chart and the JSON results. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { summarize, type Summary } from './stats.ts';
import { versionOf } from './tools.ts';

export type Unit = 'req/s' | 'ms' | 'MiB/s' | 'MiB' | 's' | '×';

export interface Target {
  /** What is compared: the ratio to the reference, or acihost's own figure. */
  on: 'ratio' | 'value';
  op: '>=' | '<=';
  limit: number;
}

export interface Figure {
  id: string;
  label: string;
  unit: Unit;
  acihost: Summary;
  /** The same measurement on the reference (nginx, or the SDK straight to RGW in S3 mode). */
  reference?: Summary;
  /** What the reference is for this row, when the table's one name does not say (nginx with 2 workers, acihost on 1 core). */
  versus?: string;
  /** acihost's median over the reference's. */
  ratio?: number;
  target?: Target;
  met?: boolean;
  note?: string;
}

export function figure(
  id: string,
  label: string,
  unit: Unit,
  acihostRuns: number[],
  referenceRuns?: number[],
  target?: Target,
  note?: string,
): Figure {
  const acihost = summarize(acihostRuns);
  const reference = referenceRuns ? summarize(referenceRuns) : undefined;
  const ratio = reference && reference.median !== 0 ? acihost.median / reference.median : undefined;
  const compared = target?.on === 'ratio' ? ratio : acihost.median;
  const met = target && compared !== undefined ? (target.op === '>=' ? compared >= target.limit : compared <= target.limit) : undefined;
  return { id, label, unit, acihost, reference, ratio, target, met, note };
}

/** The figure with its reference named: `versus` is what the reference column of its row measured. */
export const against = (versus: string, f: Figure): Figure => ({ ...f, versus });

const fmt = (n: number, unit: Unit) =>
  unit === 'req/s'
    ? Math.round(n).toLocaleString('en-US')
    : unit === 'ms'
      ? n.toFixed(2)
      : unit === 's'
        ? n.toFixed(2)
        : n.toFixed(unit === '×' ? 2 : 0);
const pct = (s: Summary | undefined) => (s ? `${Math.round(s.spread * 100)}%` : '');
const targetText = (t: Target | undefined) => (t ? `${t.on === 'ratio' ? 'ratio ' : ''}${t.op === '>=' ? '≥' : '≤'} ${t.limit}` : '');

/**
 * A Markdown table (also readable on a terminal), as the README shows it. When rows
 * name their own reference (`versus`), the reference column is "reference" and a
 * column after it says what each row's is.
 */
export function table(figures: Figure[], referenceName: string): string {
  const named = figures.some((f) => f.versus !== undefined);
  const head = named ? 'reference' : referenceName;
  const rows = [
    ['figure', 'acihost', head, ...(named ? ['reference is'] : []), 'ratio', 'target', 'met', 'spread (acihost / ' + head + ')'],
    ...figures.map((f) => [
      `${f.label} (${f.unit})`,
      fmt(f.acihost.median, f.unit),
      f.reference ? fmt(f.reference.median, f.unit) : '',
      ...(named ? [f.reference ? (f.versus ?? referenceName) : ''] : []),
      f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : '',
      targetText(f.target),
      f.met === undefined ? '' : f.met ? 'yes' : 'NO',
      [pct(f.acihost), pct(f.reference)].filter(Boolean).join(' / '),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** Where and with what the figures were taken: part of every figure. */
export function machine(): Record<string, unknown> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: sh('uname', ['-r']),
    node: process.version,
    nginx: versionOf('nginx', ['-v']),
    wrk: versionOf('wrk', ['-v']),
    curl: versionOf('curl', ['--version']),
  };
}

export async function writeResults(file: string, results: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(results, null, 2) + '\n');
}

export const loadAverage = () => loadavg().map((n) => Number(n.toFixed(2)));
