import type { parseArgs, ParseArgsConfig } from 'node:util';

/** Every option any command takes; src/cli/commands.ts says which command takes which. */
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
  'max-bytes': { type: 'string' },
  'max-versions': { type: 'string' },
  keep: { type: 'string' },
  'max-age': { type: 'string' },
  protect: { type: 'string' },
  grace: { type: 'string' },
  url: { type: 'string' },
  event: { type: 'string', multiple: true },
  'secret-file': { type: 'string' },
  'allow-http': { type: 'boolean' },
  'allow-private-target': { type: 'boolean' },
  as: { type: 'string' },
  'ca-file': { type: 'string' },
  'insecure-http': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

export type OptionName = keyof typeof CLI_OPTIONS;

export type CliValues = ReturnType<typeof parseArgs<{ options: typeof CLI_OPTIONS; allowPositionals: true }>>['values'];

/**
 * A mistake in how a command was called, exit 2: printed as one line with a pointer to
 * `acihost help COMMAND` (the command is filled in by the dispatcher when not given).
 */
export class UsageError extends Error {
  command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}
export const usageError = (message: string, command?: string) => new UsageError(message, command);
