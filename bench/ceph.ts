/**
 * The Ceph RGW of the S3 mode, through the project's scripts/ceph-s3.sh (as the
 * tests start it, output to a log file). Its ports are fixed, so one already
 * running (a test run's, a developer's) is shared, not restarted, and left running.
 * RGW frees deleted objects' data only in its garbage collection, hours later by
 * default: the bench runs that collection after removing what it stored, so a
 * shared cluster does not fill up.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../scripts/ceph-s3.sh', import.meta.url).pathname;
export const RGW = 'http://127.0.0.1:7480';
/** Where test/global-setup.ts keeps its cluster (test/helpers/s3.ts). */
const TEST_CLUSTER = join(tmpdir(), 'acihost-ceph');
export const KEYS = { accessKeyId: 'TESTACCESSKEY123', secretAccessKey: 'testsecretkey1234567890' };

async function rgwAnswers(): Promise<boolean> {
  try {
    return (await fetch(RGW, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export class Ceph {
  readonly stateDir: string;
  readonly startedHere: boolean;
  private constructor(stateDir: string, startedHere: boolean) {
    this.stateDir = stateDir;
    this.startedHere = startedHere;
  }

  static async ensure(work: string, say: (line: string) => void): Promise<Ceph> {
    if (await rgwAnswers()) {
      say(`bench: sharing the Ceph RGW already running on ${RGW}`);
      return new Ceph(TEST_CLUSTER, false);
    }
    const ceph = new Ceph(join(work, 'ceph'), true);
    say(
      `bench: starting a Ceph RGW (scripts/ceph-s3.sh start; installs radosgw, ceph-mon, ceph-osd, ceph-common if missing); log in ${ceph.stateDir}.start.log`,
    );
    // A block device big enough for the 1 GiB pushes (a sparse file).
    await ceph.script('start', { BLOCK_SIZE: String(16 * 2 ** 30) });
    return ceph;
  }

  private async script(command: 'start' | 'stop', extra: Record<string, string> = {}): Promise<void> {
    const log = openSync(`${this.stateDir}.${command}.log`, 'a');
    try {
      // The daemons inherit the script's stdio: a pipe would keep this process waiting for ever.
      const child = spawn(SCRIPT, [command], {
        env: { ...process.env, D: this.stateDir, AK: KEYS.accessKeyId, SK: KEYS.secretAccessKey, ...extra },
        stdio: ['ignore', log, log],
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`ceph-s3.sh ${command} failed (exit ${code}); see ${this.stateDir}.${command}.log`);
    } finally {
      closeSync(log);
    }
  }

  /** Frees the data of deleted objects now (radosgw-admin gc process). */
  async collectGarbage(): Promise<void> {
    const conf = join(this.stateDir, 'ceph.conf');
    if (!existsSync(conf)) return;
    await run('radosgw-admin', ['gc', 'process', '--include-all'], { env: { ...process.env, CEPH_CONF: conf }, timeout: 120_000 });
  }

  async stop(): Promise<void> {
    if (this.startedHere) await this.script('stop');
  }
}
