/**
 * What Node itself reaches here with the discovery page: bench/node-ceiling-server.ts
 * answers with the page's bytes and headers from a constant, one process pinned to
 * the bed's server cores (one, where it is measured) with acihost's launch settings. acihost cannot answer faster than that; the
 * difference is its own work per request (the memory answer, the access line and
 * the metrics), and the ceiling's ratio to nginx says what the ratio
 * targets ask of Node's HTTP and TLS on this machine at this hour.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { get } from './acihost.ts';
import type { Bed } from './bed.ts';
import { freePort, spawnPinned, stopChild, waitFor } from './processes.ts';

const SERVER = new URL('./node-ceiling-server.ts', import.meta.url).pathname;

export class NodeCeiling {
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.#child = child;
  }

  /**
   * Starts the ceiling server with acihost's answer to `path` (the headers that vary
   * per answer left out); with `accessLine`, it also writes acihost's access line and
   * counts its metrics, its log in the work directory as acihost's is.
   */
  static async start(bed: Bed, path: string, accessLine = false): Promise<NodeCeiling> {
    const res = await get(bed.site.url + path, bed.caPem);
    if (res.status !== 200) throw new Error(`bench: GET ${path} answered ${res.status}`);
    // Node writes its own Date, Connection and Keep-Alive, as it does for acihost.
    const { date: _d, connection: _c, 'keep-alive': _k, ...headers } = res.headers;
    const answer = { path, headers, body: res.body.toString('base64') };
    const answerFile = join(bed.work, 'ceiling-answer.json');
    await writeFile(answerFile, JSON.stringify(answer));
    const port = await freePort();
    const certs = bed.site.certsDir;
    const log = openSync(join(bed.work, 'ceiling.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawnPinned(
        bed.placement.server,
        process.execPath,
        [
          SERVER,
          String(port),
          join(certs, 'server.pem'),
          join(certs, 'server-key.pem'),
          answerFile,
          ...(accessLine ? ['--access-line'] : []),
        ],
        { env: { ...process.env, ...bed.site.env }, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const url = `https://127.0.0.1:${port}`;
    await waitFor('the Node ceiling server', async () => (await get(url + path, bed.caPem, 1000)).status === 200, 30_000, 100);
    return new NodeCeiling(url, child);
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}
