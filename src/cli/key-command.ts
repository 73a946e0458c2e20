import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';
import { auditCli } from './cli-audit.ts';
import { keyState } from '../registry/key-state.ts';
import { removeKey } from '../registry/key-removal.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

// A fingerprint pasted from gpg --fingerprint arrives as ten words unless quoted.
const fingerprintArg = (rest: string[], sub: string): string => {
  if (rest.length === 0) throw usageError(`key ${sub} needs a FINGERPRINT (acihost key list shows them)`);
  return rest.join(' ');
};

export async function keyCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const [sub, ...rest] = args;
  return withRegistry(config, async (registry) => {
    switch (sub) {
      case 'add': {
        const prefix = values.prefix?.[0];
        const file = rest[0];
        if (!prefix || !file || values.prefix!.length > 1) throw usageError('key add needs one --prefix PREFIX and a key FILE');
        const added = await registry.keys.add(prefix, await readFile(file));
        for (const { info, prefixes, retiredAt } of added) {
          for (const w of info.warnings) err(`warning: ${info.fingerprint}: ${w}`);
          out(`${info.fingerprint} ${info.algorithm} ${info.userIds[0] ?? ''} trusted for ${prefixes.join(', ')}`);
          await auditCli(registry, { action: 'key.add', name: prefix, result: 'added', detail: { fingerprint: info.fingerprint, prefixes } });
          if (retiredAt) err(`note: ${info.fingerprint} was retired on ${retiredAt} and stays retired; acihost key activate undoes that`);
        }
        return 0;
      }
      case 'list': {
        const keys = await registry.keys.list();
        if (values.json) {
          out(
            JSON.stringify(
              keys.map(({ armored: _armored, ...k }) => ({ ...k, state: keyState(k) })),
              null,
              2,
            ),
          );
        } else {
          if (keys.length === 0) err('no trusted keys; add one with acihost key add --prefix PREFIX KEY.asc');
          for (const k of keys)
            out(
              `${k.fingerprint}  ${keyState(k).padEnd(7)}  ${k.algorithm}  ${k.prefixes.join(',')}  expires ${k.expires ?? 'never'}  ${k.userIds[0] ?? ''}`,
            );
        }
        return 0;
      }
      case 'remove': {
        const { record, unverifiable } = await removeKey(registry.keys, registry.storage, fingerprintArg(rest, sub), values.force === true);
        out(`removed ${record.fingerprint}`);
        await auditCli(registry, { action: 'key.remove', result: 'removed', detail: { fingerprint: record.fingerprint, prefixes: record.prefixes } });
        if (unverifiable) err(`warning: ${unverifiable} published image(s) signed by it can no longer be verified by clients`);
        return 0;
      }
      case 'retire': {
        const record = await registry.keys.setRetired(fingerprintArg(rest, sub), new Date());
        out(`retired ${record.fingerprint} on ${record.retiredAt}: pushes signed by it are refused; it still verifies what it signed`);
        await auditCli(registry, { action: 'key.retire', result: 'retired', detail: { fingerprint: record.fingerprint } });
        return 0;
      }
      case 'activate': {
        const record = await registry.keys.setRetired(fingerprintArg(rest, sub), null);
        out(`${record.fingerprint} is ${keyState(record)}`);
        await auditCli(registry, { action: 'key.activate', result: 'activated', detail: { fingerprint: record.fingerprint } });
        return 0;
      }
      default:
        throw usageError(`unknown key command ${JSON.stringify(sub ?? '')}; use add, list, retire, activate or remove`);
    }
  });
}
