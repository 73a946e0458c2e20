import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';
import { auditCli } from './cli-audit.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

export async function keyCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const [sub, ...rest] = args;
  return withRegistry(config, async (registry) => {
    switch (sub) {
      case 'add': {
        const prefix = values.prefix?.[0];
        const file = rest[0];
        if (!prefix || !file || values.prefix!.length > 1) throw usageError('key add needs one --prefix PREFIX and a key FILE');
        const added = await registry.keys.add(prefix, await readFile(file));
        for (const { info, prefixes } of added) {
          for (const w of info.warnings) err(`warning: ${info.fingerprint}: ${w}`);
          out(`${info.fingerprint} ${info.algorithm} ${info.userIds[0] ?? ''} trusted for ${prefixes.join(', ')}`);
          await auditCli(registry, { action: 'key.add', name: prefix, result: 'added', detail: { fingerprint: info.fingerprint, prefixes } });
        }
        return 0;
      }
      case 'list': {
        const keys = await registry.keys.list();
        if (values.json) {
          out(
            JSON.stringify(
              keys.map(({ armored: _armored, ...k }) => k),
              null,
              2,
            ),
          );
        } else {
          if (keys.length === 0) err('no trusted keys; add one with acihost key add --prefix PREFIX KEY.asc');
          for (const k of keys)
            out(`${k.fingerprint}  ${k.algorithm}  ${k.prefixes.join(',')}  expires ${k.expires ?? 'never'}  ${k.userIds[0] ?? ''}`);
        }
        return 0;
      }
      case 'remove': {
        if (!rest[0]) throw usageError('key remove needs a FINGERPRINT');
        const removed = await registry.keys.remove(rest[0]);
        out(`removed ${removed.fingerprint}`);
        await auditCli(registry, { action: 'key.remove', result: 'removed', detail: { fingerprint: removed.fingerprint, prefixes: removed.prefixes } });
        return 0;
      }
      default:
        throw usageError(`unknown key command ${JSON.stringify(sub ?? '')}; use add, list or remove`);
    }
  });
}
