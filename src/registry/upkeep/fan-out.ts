import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/** Resolves once `sink` can take more, or will never take more (closed or failed). */
function writableOrGone(sink: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('close', done);
      sink.off('error', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
    sink.on('error', done);
  });
}

/**
 * Reads `source` once and writes every chunk to each sink that is still alive, at the
 * pace of the slowest, while hashing (sha256) and counting the bytes. Unlike a
 * pipeline, a sink that fails (a corrupt archive) does not stop the others (the
 * signature check), so one read yields every verdict. Memory stays bounded.
 */
export async function fanOut(source: Readable, sinks: Writable[]): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const alive = (s: Writable) => !s.destroyed && !s.writableEnded && !s.errored;
  for (const s of sinks) s.on('error', () => {}); // each sink's owner reports its own failure
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    const waits: Promise<void>[] = [];
    for (const s of sinks) if (alive(s) && !s.write(chunk)) waits.push(writableOrGone(s));
    await Promise.all(waits);
  }
  for (const s of sinks) if (alive(s)) s.end();
  return { digest: hash.digest('hex'), size };
}
