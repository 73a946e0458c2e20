import type { parseArgs, ParseArgsConfig } from 'node:util';

export const CLI_OPTIONS = {
  config: { type: 'string' },
  prefix: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  name: { type: 'string' },
  expires: { type: 'string' },
  json: { type: 'boolean' },
  connect: { type: 'boolean' },
  since: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'trust-keys': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export type CliValues = ReturnType<typeof parseArgs<{ options: typeof CLI_OPTIONS; allowPositionals: true }>>['values'];

/** A mistake in how a command was called: printed with the usage text, exit 2. */
export class UsageError extends Error {}
export const usageError = (message: string) => new UsageError(message);
