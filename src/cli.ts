#!/usr/bin/env node
// First: a Node too old to run acihost says so in one line (src/cli/require-node.ts).
import './cli/require-node.ts';
// Then: `serve` re-executes itself here when the runtime settings are missing (src/cli/launch.ts).
import './cli/launch.ts';
// Then, before the modules below are evaluated: the young-generation policy (src/runtime/heap-policy.ts).
import './runtime/entry-tuning.ts';
import './runtime/compile-cache.ts';
import { UsageError } from './cli/args.ts';
import { checkArgs, checkOptions, has, readCommandLine } from './cli/command-line.ts';
import { COMMANDS, findCommand, type Command } from './cli/commands.ts';
import { fileErrorReason, isFileError } from './cli/file-errors.ts';
import { isAcihostError } from './errors.ts';

// Only the command table is loaded here: each command's modules, the configuration
// schema and the server's are imported by the command that needs them (src/cli/commands.ts),
// after the heap policy is in force, so help and --version stay fast.
async function run(argv: string[]): Promise<number> {
  const line = readCommandLine(argv);
  if (has(line, 'help')) return (await import('./cli/help.ts')).helpCommand(line.words);
  let command: Command;
  let args: string[];
  if (line.words.length === 0) {
    if (!has(line, 'version')) {
      process.stderr.write((await import('./cli/help.ts')).helpText([]) + '\n');
      return 2;
    }
    [command, args] = [COMMANDS.find((c) => c.name === 'version')!, []];
  } else {
    ({ command, args } = findCommand(line.words));
  }
  try {
    checkOptions(command, line);
    checkArgs(command, args);
    return await command.run({ args, values: line.values });
  } catch (e) {
    if (e instanceof UsageError) e.command ??= command.name;
    throw e;
  }
}

// A reader that stops early (`acihost audit | head`) has all it wanted: end quietly, as other tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

/** A listener that could not bind (in a worker, the supervisor's bind): a setting or another process, not a bug. */
const isListenError = (e: unknown): e is NodeJS.ErrnoException & { address: string; port: number } =>
  ['listen', 'bind'].includes((e as NodeJS.ErrnoException)?.syscall ?? '') &&
  ['EADDRINUSE', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '');

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (e: unknown) => {
    // ConfigError by name: config/load.ts is loaded lazily, inside run().
    if ((e as Error)?.name === 'ConfigError') {
      process.stderr.write(`acihost: ${(e as Error).message}\n`);
      process.exitCode = 2;
    } else if (e instanceof UsageError) {
      const help = e.command ? `acihost help ${e.command}` : 'acihost help';
      process.stderr.write(`acihost: ${e.message}; see \`${help}\`\n`);
      process.exitCode = 2;
    } else if (isAcihostError(e)) {
      process.stderr.write(`acihost: ${e.message} (${e.code})\n`);
      process.exitCode = 1;
    } else if (isListenError(e)) {
      const at = `${e.address}:${e.port}`;
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is in use (a server that is stopping holds it for its shutdown delay); choose another with ACIHOST_PORT'
          : 'permission denied (see docs/operations.md, port 443 without root)';
      process.stderr.write(`acihost: cannot listen on ${at}: ${why}\n`);
      process.exitCode = 1;
    } else if (isFileError(e)) {
      // A file the configuration names (a certificate, the storage directory), not a bug.
      process.stderr.write(`acihost: cannot use ${e.path}: ${fileErrorReason(e)}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`acihost: ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 1;
    }
  },
);
