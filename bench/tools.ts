/**
 * The programs the benchmark drives. nginx (the reference server) and wrk (the
 * request-rate load generator) come from Debian; when either is missing the bench
 * says so and installs it with apt-get, never silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const DEBIAN_PACKAGES: Record<string, string> = { nginx: 'nginx', wrk: 'wrk', taskset: 'util-linux', curl: 'curl', gpg: 'gnupg' };

export const hasCommand = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** Installs the Debian packages of the missing commands (apt-get update first), saying what and why. */
export function ensureTools(names: string[], say: (line: string) => void): void {
  const missing = names.filter((n) => !hasCommand(n));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((n) => DEBIAN_PACKAGES[n] ?? n))];
  say(`bench: ${missing.join(', ')} missing; installing Debian packages: ${packages.join(' ')} (apt-get update, then apt-get install)`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args: string[]) =>
    execFileSync(sudo[0] ?? args[0]!, sudo.length ? args : args.slice(1), {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
  const still = names.filter((n) => !hasCommand(n));
  if (still.length) throw new Error(`bench: still missing after installing: ${still.join(', ')}`);
}

/** The installed version line of a tool, for the results (machine and versions are part of a figure). */
export function versionOf(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return (
    `${r.stdout ?? ''}${r.stderr ?? ''}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? 'unknown'
  );
}
