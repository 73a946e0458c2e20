import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../server.ts';

/** Runs until SIGINT/SIGTERM, then closes gracefully (in-flight requests finish). */
export async function serveCommand(config: Config): Promise<number> {
  const log = createLogger(config.log.level);
  const server = await startServer(config, log);
  // Printed as well as logged: the one thing a newcomer must copy to a client.
  if (server.devCa)
    process.stderr.write(`acihost: development CA: ${server.devCa} (trust it on clients, e.g. SSL_CERT_FILE=${server.devCa})\n`);
  process.stderr.write(`acihost: serving ${config.server.publicUrl} (listening on ${server.url})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
