/**
 * The command table: each command's name, description, usage, options, example and how
 * to run it. Help text (src/cli/help.ts), option checking (src/cli/command-line.ts) and
 * dispatch all read it, so they cannot disagree. Command modules and the configuration
 * are imported only when that command runs: help and --version load neither.
 */
import type { Config } from '../config/schema.ts';
import { usageError, type CliValues, type OptionName } from './args.ts';

export interface Invocation {
  args: string[];
  values: CliValues;
}

export interface Command {
  /** The words after `acihost`, e.g. 'key add'. */
  name: string;
  summary: string;
  /** After `acihost `: the arguments and options, as a user types them. */
  usage: string;
  /** How many arguments (words that are not options) it takes. */
  args: { min: number; max: number; name?: string };
  /** The options it takes besides --config and --help, each with what it does here. */
  options: Partial<Record<OptionName, string>>;
  /** Whether it reads the configuration (then --config is listed in its help). */
  config: boolean;
  example: string;
  notes?: string;
  run(invocation: Invocation): Promise<number>;
}

export interface Group {
  name: string;
  summary: string;
}

/** What the value of each option that takes one stands for, in usage and help. */
export const OPTION_VALUES: Partial<Record<OptionName, string>> = {
  config: 'FILE',
  prefix: 'PREFIX',
  scope: 'SCOPE',
  name: 'LABEL',
  expires: 'DURATION',
  since: 'YYYY-MM-DD',
  'trust-keys': 'PREFIX',
  'max-bytes': 'BYTES',
  'max-versions': 'N',
  keep: 'N',
  'max-age': 'DURATION',
  protect: 'REGEX',
  grace: 'DURATION',
  url: 'URL',
  event: 'KIND',
  'secret-file': 'FILE',
};

type Work = (config: Config, args: string[], values: CliValues) => Promise<number>;

/**
 * Loads the configuration, then the command's module (so a bad configuration is reported first).
 * A misspelt ACIHOST_ variable is only a warning here: a running service should not stop over
 * one; `check-config` fails on it.
 */
const withConfig =
  (load: () => Promise<Work>) =>
  async ({ args, values }: Invocation): Promise<number> => {
    for (const problem of (await import('../config/env.ts')).unknownVariables(process.env)) {
      process.stderr.write(`acihost: warning: ${problem}\n`);
    }
    const config = (await import('../config/load.ts')).loadConfig({ file: values.config });
    return (await load())(config, args, values);
  };

const none = { min: 0, max: 0 };
const one = (name: string) => ({ min: 1, max: 1, name });
// A fingerprint pasted from gpg --fingerprint arrives as ten words unless quoted.
const fingerprint = { min: 1, max: Infinity, name: 'FINGERPRINT' };

export const GROUPS: Group[] = [
  { name: 'key', summary: 'manage the public keys trusted to sign pushes' },
  { name: 'token', summary: 'manage the tokens that authorize pushes, deletes and pulls' },
  { name: 'cert', summary: 'inspect the TLS certificate, or renew an ACME one' },
  { name: 'quota', summary: 'limit the bytes and versions stored under a name prefix' },
  { name: 'retention', summary: 'remove old versions by policy: set rules per name prefix, see the plan, apply it' },
  { name: 'webhook', summary: 'manage the HTTPS endpoints told of pushes, deletes, and key and token events' },
];

export const COMMANDS: Command[] = [
  {
    name: 'serve',
    summary: 'start the HTTPS server',
    usage: 'serve',
    args: none,
    options: {},
    config: true,
    example: 'ACIHOST_PUBLIC_URL=https://aci.example.com acihost serve --config /etc/acihost.json',
    notes: 'Runs until SIGTERM or SIGINT, then shuts down gracefully; SIGHUP reloads the certificate.',
    run: withConfig(async () => (await import('./serve-command.ts')).serveCommand),
  },
  {
    name: 'check-config',
    summary: 'validate the configuration and print every problem',
    usage: 'check-config [--connect] [--json]',
    args: none,
    options: {
      connect: 'also prove the storage works: write, read, list and delete a probe object',
      json: 'print {"valid", "problems", "storage"} as one JSON object on stdout',
    },
    config: true,
    example: 'acihost check-config --config /etc/acihost.json --connect',
    notes: 'Exit 2 when the configuration is invalid, 1 when --connect finds the storage unusable.',
    run: async ({ values }) => (await import('./check-config-command.ts')).checkConfigCommand(values),
  },
  {
    name: 'key add',
    summary: 'trust the armored public key(s) in FILE for a name prefix',
    usage: 'key add --prefix PREFIX FILE',
    args: one('FILE'),
    options: { prefix: 'the name prefix the keys may sign for: the image domain or under it (required)' },
    config: true,
    example: 'gpg --armor --export ci@example.com > ci.asc && acihost key add --prefix aci.example.com/team ci.asc',
    run: withConfig(async () => (await import('./key-command.ts')).keyAdd),
  },
  {
    name: 'key list',
    summary: 'list trusted keys with their state (active, retired, expired)',
    usage: 'key list [--json]',
    args: none,
    options: { json: 'print a JSON array' },
    config: true,
    example: 'acihost key list --json',
    run: withConfig(async () => (await import('./key-command.ts')).keyList),
  },
  {
    name: 'key retire',
    summary: 'refuse new pushes signed by a key; it still verifies what it signed',
    usage: 'key retire FINGERPRINT',
    args: fingerprint,
    options: {},
    config: true,
    example: 'acihost key retire 0123456789abcdef0123456789abcdef01234567',
    notes: 'Fingerprints in any case, spaces allowed (quoted or not); acihost key list shows them.',
    run: withConfig(async () => (await import('./key-command.ts')).keyRetire),
  },
  {
    name: 'key activate',
    summary: 'undo a retirement',
    usage: 'key activate FINGERPRINT',
    args: fingerprint,
    options: {},
    config: true,
    example: 'acihost key activate 0123456789abcdef0123456789abcdef01234567',
    run: withConfig(async () => (await import('./key-command.ts')).keyActivate),
  },
  {
    name: 'key remove',
    summary: 'stop trusting a key',
    usage: 'key remove FINGERPRINT [--force]',
    args: fingerprint,
    options: { force: 'remove it even while published images were signed by it (clients can no longer verify them)' },
    config: true,
    example: 'acihost key remove 0123456789abcdef0123456789abcdef01234567',
    run: withConfig(async () => (await import('./key-command.ts')).keyRemove),
  },
  {
    name: 'key generate',
    summary: 'make a server signing key for a name prefix, which signs pushes of tokens with the sign scope',
    usage: 'key generate --prefix PREFIX [--json]',
    args: none,
    options: {
      prefix: 'the name prefix the key signs for: the image domain or under it (required)',
      json: 'print the new key (fingerprint, key ids, algorithm, user ids, prefixes) as JSON',
    },
    config: true,
    example: 'ACIHOST_SIGNING_SECRET_FILE=/run/secrets/acihost-signing acihost key generate --prefix aci.example.com/team',
    notes:
      'Needs ACIHOST_SIGNING_SECRET or ACIHOST_SIGNING_SECRET_FILE (16 characters or more): the key is stored encrypted with it, ' +
      'and the server needs the same secret to start. Generating again makes a newer key that signs from then on; ' +
      'retire the older one with acihost key retire.',
    run: withConfig(async () => (await import('./key-command.ts')).keyGenerate),
  },
  {
    name: 'token create',
    summary: 'create a token and print it, alone, on the first line of stdout (it is shown once)',
    usage: 'token create --prefix PREFIX... [--scope SCOPE]... [--name LABEL] [--expires DURATION] [--json]',
    args: none,
    options: {
      prefix: 'a name prefix the token acts under: the image domain or under it (required, repeatable)',
      scope: 'push (default), pull, delete, overwrite, metrics, admin (manages tokens at or below its prefixes), convert, or sign (push, and have unsigned pushes signed by the server); repeatable',
      name: 'a label, shown by token list',
      expires: 'a duration such as 90d or 12h, or never (default: tokens.defaultExpiry)',
      json: 'print the details as JSON on the second line of stdout instead of a sentence on stderr',
    },
    config: true,
    example: 'TOKEN=$(acihost token create --prefix aci.example.com/team --name ci)',
    run: withConfig(async () => (await import('./token-command.ts')).tokenCreate),
  },
  {
    name: 'token list',
    summary: 'list tokens (never their secrets): who made each, its last use, and (expiring soon) within 14 days of expiry',
    usage: 'token list [--json]',
    args: none,
    options: { json: 'print a JSON array' },
    config: true,
    example: 'acihost token list --json',
    run: withConfig(async () => (await import('./token-command.ts')).tokenList),
  },
  {
    name: 'token revoke',
    summary: 'revoke a token; running servers refuse it within 2 seconds',
    usage: 'token revoke ID',
    args: one('ID'),
    options: {},
    config: true,
    example: 'acihost token revoke 78fd8483707cae3c0521',
    notes: 'The ID is the part between acih_ and the next _; acihost token list shows them.',
    run: withConfig(async () => (await import('./token-command.ts')).tokenRevoke),
  },
  {
    name: 'quota set',
    summary: 'set the most bytes and versions the names at or below a prefix may hold together',
    usage: 'quota set --prefix PREFIX [--max-bytes BYTES] [--max-versions N]',
    args: none,
    options: {
      prefix: 'the name prefix: the image domain or under it (required)',
      'max-bytes': 'the most bytes of .aci files, such as 5000000000, 5GB or 4.5GiB (default: no limit)',
      'max-versions': 'the most versions, each version, os and arch counting once (default: no limit)',
    },
    config: true,
    example: 'acihost quota set --prefix aci.example.com/team --max-bytes 50GiB --max-versions 500',
    notes:
      'Replaces the quota the prefix had; it holds from the next push, on every server within 2 seconds. What is stored already stays.',
    run: withConfig(async () => (await import('./quota-command.ts')).quotaSet),
  },
  {
    name: 'quota list',
    summary: 'list the quotas with what is used of each',
    usage: 'quota list [--json]',
    args: none,
    options: { json: 'print a JSON array' },
    config: true,
    example: 'acihost quota list --json',
    run: withConfig(async () => (await import('./quota-command.ts')).quotaList),
  },
  {
    name: 'quota remove',
    summary: 'remove the quota of a prefix',
    usage: 'quota remove --prefix PREFIX',
    args: none,
    options: { prefix: 'the prefix whose quota goes (required)' },
    config: true,
    example: 'acihost quota remove --prefix aci.example.com/team',
    run: withConfig(async () => (await import('./quota-command.ts')).quotaRemove),
  },
  {
    name: 'cert info',
    summary: 'show what the server would serve: source, subject, SANs, issuer, expiry',
    usage: 'cert info [--json]',
    args: none,
    options: { json: 'print one JSON object' },
    config: true,
    example: 'acihost cert info --config /etc/acihost.json',
    run: withConfig(async () => (await import('./cert-command.ts')).certInfo),
  },
  {
    name: 'cert renew',
    summary: 'ask running servers to order a new ACME certificate now',
    usage: 'cert renew',
    args: none,
    options: {},
    config: true,
    example: 'acihost cert renew',
    notes: 'Only for ACME certificates (tls.acme); certificate files are reloaded with SIGHUP.',
    run: withConfig(async () => (await import('./cert-command.ts')).certRenew),
  },
  {
    name: 'audit',
    summary: 'print the audit log (pushes, deletes, key, token and retention policy changes) as JSON lines',
    usage: 'audit [export] [--since YYYY-MM-DD]',
    // `audit export` says what it is for in a script that archives the log before audit.keepDays prunes it.
    args: { min: 0, max: 1, name: '[export]' },
    options: {
      since: 'only the events of this day (UTC) and later',
      json: 'accepted for uniformity: the output is JSON lines already',
    },
    config: true,
    example: 'acihost audit export --since 2026-01-31 > audit.jsonl',
    run: withConfig(async () => (await import('./audit-command.ts')).auditCommand),
  },
  {
    name: 'verify',
    summary: 're-check every published image; exit 1 on any problem',
    usage: 'verify [--prefix PREFIX] [--json]',
    args: none,
    options: {
      prefix: 'only the images under this name prefix',
      json: 'print {"prefix", "checked", "bytes", "problems"} as one JSON object',
    },
    config: true,
    example: 'acihost verify --prefix aci.example.com/team',
    notes: 'Exit 1 when any image has a problem, so a cron job or CI step can alert on it.',
    run: withConfig(async () => (await import('./verify-command.ts')).verifyCommand),
  },
  {
    name: 'convert',
    summary: 'convert an upstream OCI/Docker image into signed versions',
    usage: 'convert docker://REGISTRY/REPO:TAG [--as NAME] [--ca-file FILE] [--insecure-http] [--json]',
    args: one('SOURCE'),
    options: {
      as: 'the name of the versions (default: what mirrors.upstreams maps the source to)',
      'ca-file': 'trust this CA (PEM) for the upstream registry',
      'insecure-http': 'reach the upstream registry over plain HTTP',
      json: 'print the conversion record (images, skipped platforms) as one JSON object',
    },
    config: true,
    example: 'acihost convert docker://docker.example.com/library/alpine:3.20 --as aci.example.com/team/alpine',
    notes:
      'Each platform appc can name becomes a version signed with the server signing key covering the name (acihost key generate). The source need not be in the allow-list.',
    run: withConfig(async () => (await import('./convert-command.ts')).convertCommand),
  },
  {
    name: 'import',
    summary: 'publish a directory of .aci + .aci.asc files (a classic static host)',
    usage: 'import DIR [--dry-run] [--trust-keys PREFIX] [--json]',
    args: one('DIR'),
    options: {
      'dry-run': 'do everything over storage that forgets every write',
      'trust-keys': 'trust the keys of the pubkeys.gpg files found in DIR for this prefix first',
      json: 'print the report (hints, keys, images, counts) as one JSON object',
    },
    config: true,
    example: 'acihost import /srv/www/aci --trust-keys aci.example.com/team --dry-run',
    notes: 'Exit 1 when any file was refused, so a migration script notices.',
    run: withConfig(async () => (await import('./import-command.ts')).importCommand),
  },
  {
    name: 'retention set',
    summary: "set a name prefix's retention policy (replacing the one it had)",
    usage: 'retention set --prefix PREFIX [--keep N] [--max-age DURATION] [--protect REGEX] [--grace DURATION]',
    args: none,
    options: {
      prefix: 'the name prefix it governs: the image domain or under it (required); a longer prefix than another policy wins',
      keep: 'keep the N most recently pushed versions of each name and os/arch',
      'max-age': 'keep the versions pushed within this long, such as 90d',
      protect: String.raw`keep the versions this regular expression matches, such as '^v?\d+\.\d+\.\d+$'`,
      grace: 'never remove a version pushed within this long (default 0)',
    },
    config: true,
    example: String.raw`acihost retention set --prefix aci.example.com/team --keep 10 --max-age 90d --protect '^v?\d+\.\d+\.\d+$'`,
    notes:
      'A version is removed only when no rule keeps it; what latest resolves to is always kept. ' +
      'With neither --keep nor --max-age the policy removes nothing under its prefix.',
    run: withConfig(async () => (await import('./retention-command.ts')).retentionSet),
  },
  {
    name: 'retention list',
    summary: 'list the retention policies',
    usage: 'retention list [--json]',
    args: none,
    options: { json: 'print a JSON array' },
    config: true,
    example: 'acihost retention list --json',
    run: withConfig(async () => (await import('./retention-command.ts')).retentionList),
  },
  {
    name: 'retention remove',
    summary: "remove a name prefix's retention policy",
    usage: 'retention remove --prefix PREFIX',
    args: none,
    options: { prefix: 'the exact prefix of the policy (required); acihost retention list shows them' },
    config: true,
    example: 'acihost retention remove --prefix aci.example.com/team',
    run: withConfig(async () => (await import('./retention-command.ts')).retentionRemove),
  },
  {
    name: 'retention plan',
    summary: 'print the versions retention would remove now, one NAME VERSION OS ARCH a line',
    usage: 'retention plan [--prefix PREFIX] [--json]',
    args: none,
    options: {
      prefix: 'only the names under this prefix (each still judged by its own policy)',
      json: 'print {"prefix", "versions", "count", "bytes"} as one JSON object',
    },
    config: true,
    example: 'acihost retention plan --prefix aci.example.com/team',
    notes: 'The count and the bytes it would free go to stderr. Nothing is removed.',
    run: withConfig(async () => (await import('./retention-command.ts')).retentionPlan),
  },
  {
    name: 'retention apply',
    summary: 'remove now what retention plan shows, each as a delete by the retention actor',
    usage: 'retention apply [--prefix PREFIX] [--json]',
    args: none,
    options: {
      prefix: 'only the names under this prefix',
      json: 'print {"prefix", "versions", "count", "bytes"} of what was removed as one JSON object',
    },
    config: true,
    example: 'acihost retention apply',
    notes: 'Prints each version removed, then the count and the bytes freed on stderr; exit 1 when a removal failed.',
    run: withConfig(async () => (await import('./retention-command.ts')).retentionApply),
  },
  {
    name: 'webhook add',
    summary: 'subscribe an HTTPS endpoint to the events under a prefix; prints its id, and the secret made for it',
    usage: 'webhook add --prefix PREFIX --url URL [--event KIND]... [--secret-file FILE] [--allow-http] [--allow-private-target]',
    args: none,
    options: {
      prefix: 'the image domain or a prefix under it (required)',
      url: 'where the events are POSTed: https://, or http:// with --allow-http (required)',
      event: 'image.published, image.deleted, key.added, key.retired or token.expiring (repeatable; default: all)',
      'secret-file': 'sign with the secret in FILE instead of a new one (printed on the second line of stdout, once)',
      'allow-http': 'allow a plain http:// URL',
      'allow-private-target': 'allow a URL on this machine or a private network (checked on every delivery)',
    },
    config: true,
    example: 'acihost webhook add --prefix aci.example.com/team --url https://ci.example.com/hooks/acihost',
    notes: 'Running servers deliver to it within a second or two; docs/operations.md#webhooks says how to verify a delivery.',
    run: withConfig(async () => (await import('./webhook-command.ts')).webhookAdd),
  },
  {
    name: 'webhook list',
    summary: 'list webhook subscriptions (never their secrets)',
    usage: 'webhook list [--json]',
    args: none,
    options: { json: 'print a JSON array' },
    config: true,
    example: 'acihost webhook list --json',
    run: withConfig(async () => (await import('./webhook-command.ts')).webhookList),
  },
  {
    name: 'webhook remove',
    summary: 'remove a webhook subscription; its deliveries not yet made stop',
    usage: 'webhook remove ID',
    args: one('ID'),
    options: {},
    config: true,
    example: 'acihost webhook remove 78fd8483707cae3c0521',
    notes: 'Subscriptions of the configuration file (config-NAME) are removed there.',
    run: withConfig(async () => (await import('./webhook-command.ts')).webhookRemove),
  },
  {
    name: 'help',
    summary: 'show how to use acihost, a command, or a group of commands',
    usage: 'help [COMMAND [SUBCOMMAND]]',
    args: { min: 0, max: 2, name: '[COMMAND]' },
    options: {},
    config: false,
    example: 'acihost help key add',
    run: async ({ args }) => (await import('./help.ts')).helpCommand(args),
  },
  {
    name: 'version',
    summary: "print acihost's version",
    usage: 'version',
    args: none,
    options: { version: 'the same, as an option: acihost --version' },
    config: false,
    example: 'acihost --version',
    run: async () => (await import('./version.ts')).versionCommand(),
  },
];

const subcommandsOf = (group: string) => COMMANDS.filter((c) => c.name.startsWith(`${group} `));
export const subcommandNames = (group: string) => subcommandsOf(group).map((c) => c.name.slice(group.length + 1));

export const findGroup = (name: string | undefined) => GROUPS.find((g) => g.name === name);

/** The command the first words name, and the words left over as its arguments. */
export function findCommand(words: string[]): { command: Command; args: string[] } {
  const [first, second] = words;
  if (findGroup(first)) {
    const command = COMMANDS.find((c) => c.name === `${first} ${second}`);
    const choices = subcommandNames(first!).join(', ');
    if (!command) {
      throw usageError(
        second === undefined
          ? `${first} needs a subcommand: ${choices}`
          : `unknown ${first} subcommand ${JSON.stringify(second)}; use ${choices}`,
        first,
      );
    }
    return { command, args: words.slice(2) };
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) throw usageError(`unknown command ${JSON.stringify(first)}`, '');
  return { command, args: words.slice(1) };
}
