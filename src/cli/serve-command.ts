import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../server.ts';

/**
 * Runs until SIGTERM/SIGINT, then shuts down gracefully (src/ops/shutdown.ts) and
 * returns 0. SIGHUP reloads the certificate.
 */
export async function serveCommand(config: Config): Promise<number> {
  const log = createLogger(config.log.level);
  const server = await startServer(config, log);
  // Printed as well as logged: the one thing a newcomer must copy to a client.
  if (server.devCa)
    process.stderr.write(`acihost: development CA: ${server.devCa} (trust it on clients, e.g. SSL_CERT_FILE=${server.devCa})\n`);
  process.stderr.write(`acihost: serving ${config.server.publicUrl} (listening on ${server.url})\n`);
  process.on('SIGHUP', () => void server.reload().catch((err: unknown) => log.error({ err }, 'failed to reload certificates')));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutdown signal received');
      server.shutdown().then(resolve, (err: unknown) => {
        log.error({ err }, 'failed to shut down cleanly');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
