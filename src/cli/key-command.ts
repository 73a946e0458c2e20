import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';
import { auditCli } from './cli-audit.ts';
import { readArgumentFile } from './file-errors.ts';
import { keyState } from '../registry/trust/key-state.ts';
import { removeKey } from '../registry/trust/key-removal.ts';
import { readSigningSecret, SIGNING_SECRET_HINT } from '../registry/trust/signing-secret.ts';
import { ConfigError } from '../config/load.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

// A fingerprint pasted from gpg --fingerprint arrives as ten words unless quoted.
const fingerprintArg = (args: string[]): string => args.join(' ');

/** `acihost key add --prefix PREFIX FILE` */
export async function keyAdd(config: Config, args: string[], values: CliValues): Promise<number> {
  const prefix = values.prefix?.[0];
  if (!prefix || values.prefix!.length > 1) throw usageError('key add needs one --prefix PREFIX');
  const bytes = await readArgumentFile(args[0]!, 'key file');
  return withRegistry(config, async (registry) => {
    const added = await registry.keys.add(prefix, bytes);
    for (const { info, prefixes, retiredAt } of added) {
      for (const w of info.warnings) err(`warning: ${info.fingerprint}: ${w}`);
      out(`${info.fingerprint} ${info.algorithm} ${info.userIds[0] ?? ''} trusted for ${prefixes.join(', ')}`);
      await auditCli(registry, { action: 'key.add', name: prefix, result: 'added', detail: { fingerprint: info.fingerprint, prefixes } });
      if (retiredAt) err(`note: ${info.fingerprint} was retired on ${retiredAt} and stays retired; acihost key activate undoes that`);
    }
    return 0;
  });
}

/**
 * `acihost key generate --prefix PREFIX [--json]`: a server signing key, its secret half kept
 * in storage encrypted with the operator's secret, its public half trusted for PREFIX. What
 * is printed is what `key add` prints: the public key's fingerprint and prefixes.
 */
export async function keyGenerate(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = values.prefix?.[0];
  if (!prefix || values.prefix!.length > 1) throw usageError('key generate needs one --prefix PREFIX');
  const secret = readSigningSecret();
  if (secret === undefined) throw new ConfigError([`key generate encrypts the new key with the signing secret: ${SIGNING_SECRET_HINT}`]);
  return withRegistry(config, async (registry) => {
    const { info, prefixes } = await registry.signer.generate(prefix, secret);
    if (values.json) {
      const { fingerprint, keyIds, algorithm, userIds, created } = info;
      out(JSON.stringify({ fingerprint, keyIds, algorithm, userIds, created, prefixes, server: true }, null, 2));
    } else {
      out(`${info.fingerprint} ${info.algorithm} ${info.userIds[0] ?? ''} trusted for ${prefixes.join(', ')}`);
      err(`the server now signs pushes under ${prefix} from tokens with the sign scope that send no signature`);
    }
    await auditCli(registry, {
      action: 'key.add',
      name: prefix,
      result: 'added',
      detail: { fingerprint: info.fingerprint, prefixes, generated: true },
    });
    return 0;
  });
}

/** `acihost key list [--json]` */
export async function keyList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
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
  });
}

/** `acihost key remove FINGERPRINT [--force]` */
export async function keyRemove(config: Config, args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry, storage) => {
    const { record, unverifiable } = await removeKey(registry.keys, storage, fingerprintArg(args), values.force === true);
    // A server key no longer trusted signs nothing: its secret half goes too.
    const held = await registry.signer.forget(record.fingerprint);
    out(`removed ${record.fingerprint}${held ? ' and its secret half (a server signing key)' : ''}`);
    await auditCli(registry, {
      action: 'key.remove',
      result: 'removed',
      detail: { fingerprint: record.fingerprint, prefixes: record.prefixes },
    });
    if (unverifiable) err(`warning: ${unverifiable} published image(s) signed by it can no longer be verified by clients`);
    return 0;
  });
}

/** `acihost key retire FINGERPRINT` */
export async function keyRetire(config: Config, args: string[]): Promise<number> {
  return withRegistry(config, async (registry) => {
    const record = await registry.keys.setRetired(fingerprintArg(args), new Date());
    out(`retired ${record.fingerprint} on ${record.retiredAt}: pushes signed by it are refused; it still verifies what it signed`);
    // The prefixes say whose images the key signed (webhook subscribers under them are told).
    await auditCli(registry, {
      action: 'key.retire',
      result: 'retired',
      detail: { fingerprint: record.fingerprint, prefixes: record.prefixes },
    });
    return 0;
  });
}

/** `acihost key activate FINGERPRINT` */
export async function keyActivate(config: Config, args: string[]): Promise<number> {
  return withRegistry(config, async (registry) => {
    const record = await registry.keys.setRetired(fingerprintArg(args), null);
    out(`${record.fingerprint} is ${keyState(record)}`);
    await auditCli(registry, { action: 'key.activate', result: 'activated', detail: { fingerprint: record.fingerprint } });
    return 0;
  });
}
