/** Request rates and latencies with wrk (Debian's 4.1), pinned to the load cores, keep-alive. */
import { coresIn, LOAD_CORE, runPinned } from './processes.ts';

export interface WrkResult {
  requestsPerSecond: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  /** Answers outside 2xx/3xx, and socket errors of any kind: a figure with errors is not a figure. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function duration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`wrk: unreadable duration ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Reads wrk's report (run with --latency). */
export function parseWrk(out: string): WrkResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  const requests = /(\d+) requests in/.exec(out)?.[1];
  if (!rate || !p50 || !p99 || !requests) throw new Error(`wrk: unreadable report:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(rate),
    p50: duration(p50),
    p99: duration(p99),
    requests: Number(requests),
    errors: non2xx + socketErrors,
  };
}

/** wrk on `load` (a taskset CPU list), one thread per core of it (wrk's threads share the connections). */
export async function runWrk(url: string, connections: number, seconds: number, load = LOAD_CORE): Promise<WrkResult> {
  const threads = Math.min(coresIn(load), connections);
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url];
  const { stdout } = await runPinned(load, 'wrk', args, (seconds + 30) * 1000);
  const result = parseWrk(stdout);
  if (result.errors > 0) throw new Error(`wrk ${url}: ${result.errors} errors or non-2xx answers out of ${result.requests}`);
  return result;
}
