import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurableFileWriter, SYNC_EVERY } from '../../src/storage/durable-file-writer.ts';

const MiB = 1024 * 1024;
const openFds = () => readdirSync('/proc/self/fd').length;

describe('a file written durably', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acihost-durable-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('holds every byte, in order, across the flushes made while it streams', async () => {
    // Chunks of odd sizes, past two flush points, some batched into one writev.
    const chunks: Buffer[] = [];
    for (let total = 0; total < 2 * SYNC_EVERY + 3 * MiB;) {
      const chunk = randomBytes(MiB + 4093 * (chunks.length % 7));
      chunks.push(chunk);
      total += chunk.length;
    }
    const file = join(dir, 'big');
    await pipeline(Readable.from(chunks), new DurableFileWriter(file, MiB));
    const want = createHash('sha256');
    for (const c of chunks) want.update(c);
    assert.equal(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
      want.digest('hex'),
    );
  });

  it('never overwrites a file that exists', async () => {
    const file = join(dir, 'there');
    await writeFile(file, 'kept');
    await assert.rejects(pipeline(Readable.from([Buffer.from('new')]), new DurableFileWriter(file, MiB)), { code: 'EEXIST' });
    assert.equal(await readFile(file, 'utf8'), 'kept');
  });

  it('closes its file when the source fails midway', async () => {
    const fds = openFds();
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(MiB);
        throw new Error('the upload was cut');
      })(),
    );
    await assert.rejects(pipeline(failing, new DurableFileWriter(join(dir, 'cut'), MiB)), /the upload was cut/);
    assert.equal(openFds(), fds);
  });
});
