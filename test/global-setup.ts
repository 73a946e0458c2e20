/**
 * Once per `npm test`: one Ceph RGW cluster for every S3 test (its ports are
 * fixed, so there can be only one), and the test bucket. Each S3 test then works
 * under a key prefix of its own. The cluster is stopped at the end.
 *
 * A new cluster takes about 20 s to start, and the S3 tests come late in the run:
 * it starts while the first tests run, and the S3 tests wait for the bucket
 * (s3Ready, test/helpers/s3.ts), or read why the start failed (S3_START_FAILED).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { S3_START_FAILED, S3_TEST, s3TestClient } from './helpers/s3.ts';

const SCRIPT = new URL('../scripts/ceph-s3.sh', import.meta.url).pathname;

let startedHere = false;
let starting: Promise<void> = Promise.resolve();

async function rgwAnswers(): Promise<boolean> {
  try {
    return (await fetch(S3_TEST.endpoint, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export async function globalSetup(): Promise<void> {
  await rm(S3_START_FAILED, { force: true });
  // A cluster left running (a developer's, between runs) is reused, not restarted.
  if (await rgwAnswers()) return createBucket();
  startedHere = true;
  starting = cluster('start')
    .then(createBucket)
    .catch((e: Error) => writeFile(S3_START_FAILED, e.message));
}

/**
 * Runs the cluster script with its output in a log file: the Ceph daemons it
 * starts inherit its stdio, and a pipe they held open would keep the test run
 * (and CI) waiting for ever.
 */
async function cluster(command: 'start' | 'stop'): Promise<void> {
  await mkdir(S3_TEST.stateDir.replace(/[^/]+$/, ''), { recursive: true });
  const logPath = `${S3_TEST.stateDir}.${command}.log`;
  const log = openSync(logPath, 'a');
  try {
    const child = spawn(SCRIPT, [command], {
      env: { ...process.env, D: S3_TEST.stateDir, AK: S3_TEST.accessKeyId, SK: S3_TEST.secretAccessKey },
      stdio: ['ignore', log, log],
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) {
      // The log's end says why, where a CI run's output is all there is to read.
      const tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-12).join('\n');
      throw new Error(`ceph-s3.sh ${command} failed (exit ${code}); ${logPath} ends:\n${tail}`);
    }
  } finally {
    closeSync(log);
  }
}

async function createBucket(): Promise<void> {
  const client = s3TestClient();
  try {
    await client.send(new CreateBucketCommand({ Bucket: S3_TEST.bucket })).catch((e: Error) => {
      if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
    });
  } finally {
    client.destroy();
  }
}

export async function globalTeardown(): Promise<void> {
  await starting;
  if (!startedHere) return;
  await cluster('stop').catch(() => undefined);
}
