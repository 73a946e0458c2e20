import type { Config } from '../config/schema.ts';
import { parseDuration } from '../config/duration.ts';
import { usageError, type CliValues } from './args.ts';
import { SCOPES, type Scope } from '../registry/tokens.ts';
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

export async function tokenCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const [sub, ...rest] = args;
  return withRegistry(config, async (registry) => {
    switch (sub) {
      case 'create': {
        if (!values.prefix?.length) throw usageError('token create needs --prefix PREFIX (repeatable)');
        const { token, record } = await registry.tokens.create({
          prefixes: values.prefix,
          scopes: scopes(values),
          name: values.name ?? '',
          expiresInSeconds: expirySeconds(values.expires ?? config.tokens.defaultExpiry),
        });
        // The token alone on the first line, so TOKEN=$(acihost token create ...) works.
        out(token);
        const { id, scopes: granted, prefixes, expiresAt } = record;
        await auditCli(registry, {
          action: 'token.create',
          result: 'created',
          detail: { tokenId: id, name: record.name, scopes: granted, prefixes, expiresAt },
        });
        const { secretSha256: _secret, ...details } = record;
        if (values.json) out(JSON.stringify(details));
        else
          err(
            `created token ${record.id} (${record.scopes.join(',')} on ${record.prefixes.join(',')}, expires ${record.expiresAt ?? 'never'}); it is shown only once`,
          );
        return 0;
      }
      case 'list': {
        const tokens = (await registry.tokens.list()).map(({ secretSha256: _secret, ...t }) => t);
        if (values.json) out(JSON.stringify(tokens, null, 2));
        else
          for (const t of tokens)
            out(`${t.id}  ${t.scopes.join(',')}  ${t.prefixes.join(',')}  expires ${t.expiresAt ?? 'never'}  ${t.name}`);
        return 0;
      }
      case 'revoke': {
        if (!rest[0]) throw usageError('token revoke needs an ID (see acihost token list)');
        await registry.tokens.revoke(rest[0]);
        out(`revoked ${rest[0]}`);
        await auditCli(registry, { action: 'token.revoke', result: 'revoked', detail: { tokenId: rest[0] } });
        return 0;
      }
      default:
        throw usageError(`unknown token command ${JSON.stringify(sub ?? '')}; use create, list or revoke`);
    }
  });
}
