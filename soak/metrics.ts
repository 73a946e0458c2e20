import { readdir, readFile } from 'node:fs/promises';

export type Op = 'discovery' | 'download' | 'range' | 'push' | 'acpush' | 'api' | 'pages' | 'bad' | 'aborted' | 'acpush-aborted';

interface Sample {
  atMs: number;
  rssMiB: number;
  fds: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** What the soak observed, and the verdict on each promise. */
export class Metrics {
  private readonly latencies = new Map<Op, number[]>();
  private readonly statuses = new Map<string, number>();
  private readonly failures: string[] = [];
  private readonly samples: Sample[] = [];
  serverErrors = 0;
  skipped = 0;

  record(op: Op, status: number, ms: number): void {
    if (!this.latencies.has(op)) this.latencies.set(op, []);
    this.latencies.get(op)!.push(ms);
    this.statuses.set(`${op} ${status}`, (this.statuses.get(`${op} ${status}`) ?? 0) + 1);
    if (status >= 500) this.serverErrors++;
  }

  failure(op: Op, e: unknown): void {
    // An aborted upload's own request fails by design; anything else is a broken exchange.
    if (op !== 'aborted') this.failures.push(`${op}: ${(e as Error)?.message ?? e}`);
  }

  async sample(pid: number, atMs: number): Promise<void> {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const fds = (await readdir(`/proc/${pid}/fd`)).length;
      this.samples.push({ atMs, rssMiB: rssKiB / 1024, fds });
    } catch {
      // the process is gone; the run will fail on its own
    }
  }

  /** Prints the figures and returns the exit code: 0 only if every promise held. */
  report(end: { published: number; corrupt: number; scratch: number }): number {
    const rows = [...this.latencies].map(([op, ms]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return `  ${op.padEnd(10)} ${String(ms.length).padStart(6)}  p50 ${percentile(sorted, 50).toFixed(1).padStart(7)} ms  p99 ${percentile(sorted, 99).toFixed(1).padStart(7)} ms`;
    });
    // Samples start after the warm-up: compare the first fifth of them with the last fifth.
    const fifth = Math.max(1, Math.floor(this.samples.length / 5));
    const warm = this.samples.slice(0, fifth);
    const last = this.samples.slice(-fifth);
    const rssWarm = median(warm.map((s) => s.rssMiB));
    const rssEnd = median(last.map((s) => s.rssMiB));
    const growth = rssWarm ? (rssEnd - rssWarm) / rssWarm : 0;
    const fdWarm = median(warm.map((s) => s.fds));
    const fdEnd = this.samples.at(-1)?.fds ?? 0;
    const checks: [string, boolean][] = [
      [`zero 5xx (${this.serverErrors})`, this.serverErrors === 0],
      [`no failed exchanges (${this.failures.length})`, this.failures.length === 0],
      [`every published image intact (${end.published - end.corrupt}/${end.published})`, end.corrupt === 0 && end.published > 0],
      [`RSS flat after warm-up (${rssWarm.toFixed(1)} -> ${rssEnd.toFixed(1)} MiB, ${(growth * 100).toFixed(1)}%)`, growth < 0.1],
      [`no file descriptor growth (${fdWarm} -> ${fdEnd})`, fdEnd <= fdWarm + 2],
      [`no scratch files left (${end.scratch})`, end.scratch === 0],
    ];
    console.log('requests by operation:');
    for (const r of rows) console.log(r);
    console.log(
      'statuses: ' +
        [...this.statuses]
          .sort()
          .map(([k, n]) => `${k}=${n}`)
          .join(', '),
    );
    if (this.skipped) console.log(`skipped (more than the in-flight limit): ${this.skipped}`);
    for (const f of this.failures.slice(0, 10)) console.log(`  failure: ${f}`);
    console.log('promises:');
    for (const [text, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${text}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  }
}
