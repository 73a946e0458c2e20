import pino, { type Logger } from 'pino';

/**
 * JSON logs; credentials never reach them. By default on standard output, written
 * synchronously: the access log writes a turn's lines at once (src/http/access-log.ts),
 * and pino's asynchronous default sent each write through a libuv thread and back,
 * which cost a busy server a share of its answers
 * (docs/benchmarks.md#access-log-and-metrics). A stalled reader then holds the
 * server back, as it does nginx writing its logs, rather than unwritten lines
 * filling the memory without bound.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'acihost' },
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
