import cluster from 'node:cluster';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { Supervisor, workerCount } from '../ops/workers/supervisor.ts';
import { WorkerLink } from '../ops/workers/worker-link.ts';

/** Who can reach a listener bound to this address. */
function reach(boundUrl: string): string {
  const host = new URL(boundUrl).hostname;
  if (host === '0.0.0.0') return 'every IPv4 interface';
  if (host === '[::]') return 'every interface';
  if (host === 'localhost' || host.startsWith('127.') || host === '[::1]') return 'this machine only';
  return 'this address only';
}

/**
 * A public URL on this machine whose port is not the one listened on: discovery would send
 * clients to a port nothing answers (a changed port with the default public URL, most often).
 * Behind a proxy on that port all is well, so this is a note, not an error.
 */
function localPortMismatch(publicUrl: string, boundUrl: string): string | undefined {
  const pub = new URL(publicUrl);
  const bound = new URL(boundUrl);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(pub.hostname);
  const publicPort = pub.port || '443';
  if (!local || publicPort === bound.port) return undefined;
  return (
    `the public URL is on port ${publicPort}, and this server listens on ${bound.port}: discovery sends clients to the public URL, ` +
    `so set ACIHOST_PUBLIC_URL=https://${pub.hostname}:${bound.port} unless a proxy listens on ${publicPort}`
  );
}

/**
 * With more than one worker (server.workers), this process supervises them
 * (src/ops/workers/supervisor.ts) and each of them runs serveCommand again as a worker.
 */
export async function serveCommand(config: Config): Promise<number> {
  const log = createLogger(config.log.level);
  const workers = workerCount(config.server.workers);
  if (cluster.isPrimary && workers > 1) {
    process.stderr.write(`acihost: serving with ${workers} worker processes (server.workers)\n`);
    return new Supervisor(workers, log).run();
  }
  if (!cluster.isWorker) return serve(config, log, undefined);
  const link = new WorkerLink();
  // Every line a worker writes, access lines included, names the worker's slot.
  return serve(config, log.child({ worker: link.slot }), link);
}

/**
 * Runs until SIGTERM/SIGINT, then shuts down gracefully (src/ops/lifecycle/shutdown.ts) and
 * returns 0: SIGINT (Ctrl-C) without the readiness delay. SIGHUP reloads the certificate.
 * A worker also stops when its supervisor is gone.
 */
async function serve(config: Config, log: ReturnType<typeof createLogger>, link: WorkerLink | undefined): Promise<number> {
  // Loaded here: the supervisor never serves, and need not hold the server's modules.
  const { startServer } = await import('../server.ts');
  const server = await startServer(config, log, link).catch((e: unknown) => {
    // A worker that failed to start must exit for its supervisor to hear it.
    link?.close();
    throw e;
  });
  // The first worker speaks for the server; the others would only repeat it.
  if (!link || link.slot === 0) {
    // Printed as well as logged: the one thing a newcomer must copy to a client.
    if (server.devCa)
      process.stderr.write(`acihost: development CA: ${server.devCa} (trust it on clients, e.g. SSL_CERT_FILE=${server.devCa})\n`);
    process.stderr.write(`acihost: listening on ${server.boundUrl} (${reach(server.boundUrl)}); public URL ${config.server.publicUrl}\n`);
    const mismatch = localPortMismatch(config.server.publicUrl, server.boundUrl);
    if (mismatch) process.stderr.write(`acihost: note: ${mismatch}\n`);
  }
  process.on('SIGHUP', () => void server.reload().catch((err: unknown) => log.error({ err }, 'failed to reload certificates')));
  await new Promise<void>((resolve) => {
    let stopping = false;
    // A worker hears a signal twice when it went to the whole process group (Ctrl-C): once from
    // the terminal and once from its supervisor.
    const stop = (signal: 'SIGINT' | 'SIGTERM') => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutdown signal received');
      server.shutdown(signal).then(resolve, (err: unknown) => {
        log.error({ err }, 'failed to shut down cleanly');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // A supervisor killed outright leaves its workers no port to serve: they finish what they hold and stop.
    if (link) process.on('disconnect', () => stop('SIGINT'));
    link?.ready();
  });
  // The channel to the supervisor would keep a worker alive once it has nothing else to do.
  link?.close();
  return 0;
}
