import type { Config } from '../config/schema.ts';
import { parseDuration } from '../config/duration.ts';
import { usageError, type CliValues } from './args.ts';
import { SCOPES, type Scope } from '../registry/access/tokens.ts';
import { withRegistry } from './open-registry.ts';
import { auditCli } from './cli-audit.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function expirySeconds(text: string): number | null {
  if (text === 'never') return null;
  const seconds = parseDuration(text);
  if (seconds === null) throw usageError(`--expires ${JSON.stringify(text)} is not a duration such as 90d, 12h or never`);
  return seconds;
}

function scopes(values: CliValues): Scope[] {
  const given = values.scope ?? ['push'];
  for (const s of given) {
    if (!(SCOPES as readonly string[]).includes(s)) throw usageError(`unknown scope ${JSON.stringify(s)}; use ${SCOPES.join(', ')}`);
  }
  return given as Scope[];
}

/** `acihost token create --prefix PREFIX... [--scope SCOPE]... [--name LABEL] [--expires DURATION] [--json]` */
export async function tokenCreate(config: Config, _args: string[], values: CliValues): Promise<number> {
  if (!values.prefix?.length) throw usageError('token create needs --prefix PREFIX (repeatable)');
  const prefixes = values.prefix;
  const granted = scopes(values);
  const expiresInSeconds = expirySeconds(values.expires ?? config.tokens.defaultExpiry);
  return withRegistry(config, async (registry) => {
    const { token, record } = await registry.tokens.create({ prefixes, scopes: granted, name: values.name ?? '', expiresInSeconds });
    // The token alone on the first line, so TOKEN=$(acihost token create ...) works.
    out(token);
    const { id, expiresAt } = record;
    await auditCli(registry, {
      action: 'token.create',
      result: 'created',
      detail: { tokenId: id, name: record.name, scopes: record.scopes, prefixes: record.prefixes, expiresAt },
    });
    const { secretSha256: _secret, ...details } = record;
    if (values.json) out(JSON.stringify(details));
    else
      err(
        `created token ${record.id} (${record.scopes.join(',')} on ${record.prefixes.join(',')}, expires ${record.expiresAt ?? 'never'}); it is shown only once`,
      );
    return 0;
  });
}

/** `acihost token list [--json]` */
export async function tokenList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
    const tokens = (await registry.tokens.list()).map(({ secretSha256: _secret, ...t }) => t);
    if (values.json) out(JSON.stringify(tokens, null, 2));
    else
      for (const t of tokens) out(`${t.id}  ${t.scopes.join(',')}  ${t.prefixes.join(',')}  expires ${t.expiresAt ?? 'never'}  ${t.name}`);
    return 0;
  });
}

/** `acihost token revoke ID` */
export async function tokenRevoke(config: Config, args: string[]): Promise<number> {
  const id = args[0]!;
  return withRegistry(config, async (registry) => {
    await registry.tokens.revoke(id);
    out(`revoked ${id}`);
    await auditCli(registry, { action: 'token.revoke', result: 'revoked', detail: { tokenId: id } });
    return 0;
  });
}
