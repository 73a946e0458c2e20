import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { expiryFromText, SCOPES, type Scope } from '../registry/access/tokens.ts';
import { TokenManager, type TokenView } from '../registry/access/token-admin.ts';
import { withRegistry } from './open-registry.ts';
import { cliActor } from './cli-audit.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

/** Seconds, null for never, undefined for the default (tokens.defaultExpiry). */
function expirySeconds(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const seconds = expiryFromText(text);
  if (seconds === undefined) throw usageError(`--expires ${JSON.stringify(text)} is not a duration such as 90d, 12h or never`);
  return seconds;
}

function scopes(values: CliValues): Scope[] {
  const given = values.scope ?? ['push'];
  for (const s of given) {
    if (!(SCOPES as readonly string[]).includes(s)) throw usageError(`unknown scope ${JSON.stringify(s)}; use ${SCOPES.join(', ')}`);
  }
  return given as Scope[];
}

/** The operator at the command line: every token, under no admin's bounds. */
const operator = () => TokenManager.operator(cliActor());

/** `acihost token create --prefix PREFIX... [--scope SCOPE]... [--name LABEL] [--expires DURATION] [--json]` */
export async function tokenCreate(config: Config, _args: string[], values: CliValues): Promise<number> {
  if (!values.prefix?.length) throw usageError('token create needs --prefix PREFIX (repeatable)');
  const prefixes = values.prefix;
  const granted = scopes(values);
  const expiresInSeconds = expirySeconds(values.expires);
  return withRegistry(config, async (registry) => {
    const { token, view } = await registry.tokenAdmin.create(operator(), {
      prefixes,
      scopes: granted,
      name: values.name ?? '',
      expiresInSeconds,
    });
    // The token alone on the first line, so TOKEN=$(acihost token create ...) works.
    out(token);
    if (values.json) out(JSON.stringify(view));
    else
      err(
        `created token ${view.id} (${view.scopes.join(',')} on ${view.prefixes.join(',')}, expires ${view.expiresAt ?? 'never'}); it is shown only once`,
      );
    return 0;
  });
}

function expiryColumn(t: TokenView): string {
  const marker = t.expired ? ' (expired)' : t.expiringSoon ? ' (expiring soon)' : '';
  return `expires ${t.expiresAt ?? 'never'}${marker}`;
}

/** `acihost token list [--json]`: the same tokens, and fields, as `GET /-/api/tokens` shows an admin of the whole domain. */
export async function tokenList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
    const tokens = await registry.tokenAdmin.list(operator());
    if (values.json) out(JSON.stringify(tokens, null, 2));
    else
      for (const t of tokens) {
        const used = `last used ${t.lastUsedAt ?? 'never'}`;
        out(
          `${t.id}  ${t.scopes.join(',')}  ${t.prefixes.join(',')}  ${expiryColumn(t)}  ${used}  by ${t.createdBy ?? 'unknown'}  ${t.name}`,
        );
      }
    return 0;
  });
}

/** `acihost token revoke ID` */
export async function tokenRevoke(config: Config, args: string[]): Promise<number> {
  const id = args[0]!;
  return withRegistry(config, async (registry) => {
    await registry.tokenAdmin.revoke(operator(), id);
    out(`revoked ${id}`);
    return 0;
  });
}
