#!/usr/bin/env node
// First, before the modules below are evaluated: the young-generation policy (src/ops/heap-policy.ts).
import './ops/heap-policy.ts';
import './ops/compile-cache.ts';
import { parseArgs } from 'node:util';
import { CLI_OPTIONS, UsageError, usageError } from './cli/args.ts';
import { isAcihostError } from './errors.ts';

const USAGE = `usage: acihost <command> [options]

  serve [--config FILE]                     start the HTTPS server
  check-config [--config FILE] [--connect]  validate the configuration (--connect: also prove the storage works)
  key add --prefix PREFIX FILE              trust the armored public key(s) in FILE for PREFIX
  key list [--json]                         list trusted keys with their state (active, retired, expired)
  key retire FINGERPRINT                    refuse new pushes signed by a key; it still verifies what it signed
  key activate FINGERPRINT                  undo a retirement
  key remove FINGERPRINT [--force]          stop trusting a key (--force when published images depend on it)
  token create --prefix PREFIX [--scope push|pull|delete|overwrite|metrics]...
               [--name LABEL] [--expires 90d|never]
                                            print a new token (shown once) on the first line
  token list [--json]                       list tokens (never their secrets)
  token revoke ID                           revoke a token
  cert info [--json]                        what the server would serve: source, subject, SANs, issuer, expiry
  cert renew                                ask running servers to order a new ACME certificate now
  audit [--since YYYY-MM-DD]                print the audit log (pushes, deletes, key and token changes) as JSON lines
  verify [--prefix PREFIX] [--json]         re-check every published image; exit 1 on any problem
  import DIR [--dry-run] [--trust-keys PREFIX]
                                            publish a directory of .aci + .aci.asc files (a classic static host)

Every command takes --config FILE; ACIHOST_* environment variables override it.`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: CLI_OPTIONS, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  // Everything else is loaded here, after the heap policy is in force (the configuration
  // schema and each command's modules: a short command does not load the server's at all).
  const config = (await import('./config/load.ts')).loadConfig({ file: values.config });
  switch (command) {
    case 'serve':
      return (await import('./cli/serve-command.ts')).serveCommand(config);
    case 'check-config':
      return (await import('./cli/check-config-command.ts')).checkConfigCommand(config, values.connect === true);
    case 'key':
      return (await import('./cli/key-command.ts')).keyCommand(config, rest, values);
    case 'token':
      return (await import('./cli/token-command.ts')).tokenCommand(config, rest, values);
    case 'cert':
      return (await import('./cli/cert-command.ts')).certCommand(config, rest, values);
    case 'audit':
      return (await import('./cli/audit-command.ts')).auditCommand(config, rest, values);
    case 'verify':
      return (await import('./cli/verify-command.ts')).verifyCommand(config, rest, values);
    case 'import':
      return (await import('./cli/import-command.ts')).importCommand(config, rest, values);
    default:
      throw usageError(`unknown command ${JSON.stringify(command)}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (e: unknown) => {
    // ConfigError by name: config/load.ts is loaded lazily, inside run().
    if ((e as Error)?.name === 'ConfigError') {
      process.stderr.write(`acihost: ${(e as Error).message}\n`);
      process.exitCode = 2;
    } else if (isAcihostError(e)) {
      process.stderr.write(`acihost: ${e.message} (${e.code})\n`);
      process.exitCode = 1;
    } else if (e instanceof UsageError || (e as NodeJS.ErrnoException)?.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`acihost: ${(e as Error).message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`acihost: ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 1;
    }
  },
);
