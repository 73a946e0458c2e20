/**
 * Where a V8 CPU profile (node --cpu-prof, or npm run bench -- --cpu-prof DIR)
 * spent its time: self time by function, and by package or source file.
 *
 *   node bench/profile-top.ts FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg> or src/<file>: the unit a fix would touch. */
function owner(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const src = /\/(src|bench|test)\/(.+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url.startsWith('node:') ? url : url ? 'other' : '(native/vm)';
}

export function selfTimes(profile: Profile): { byFunction: Map<string, number>; byOwner: Map<string, number>; total: number } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = nodes.get(id)!.callFrame;
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const o = owner(frame.url);
    byOwner.set(o, (byOwner.get(o) ?? 0) + us);
    total += us;
  });
  return { byFunction, byOwner, total };
}

function print(title: string, m: Map<string, number>, total: number, n: number): void {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
}

if (import.meta.main) {
  const [file, n = '25'] = process.argv.slice(2);
  if (!file) throw new Error('usage: node bench/profile-top.ts FILE.cpuprofile [N]');
  const { byFunction, byOwner, total } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  console.log(`${(total / 1e6).toFixed(1)} s sampled`);
  print('self time by package or file', byOwner, total, Number(n));
  print('self time by function', byFunction, total, Number(n));
}
