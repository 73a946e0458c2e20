/**
 * Real GnuPG for tests: a throw-away GNUPGHOME per `createGpg()`, keys made at test time,
 * detached signatures made the way users make them. Call `cleanup()` in `after()`: it stops
 * the gpg-agent that home started (a leftover agent can hold CI's pipes open) and removes it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Algorithms as gpg's --quick-gen-key spells them. */
export type GpgAlgo = 'rsa1024' | 'rsa2048' | 'rsa3072' | 'rsa4096' | 'dsa2048' | 'ed25519' | 'nistp256' | 'nistp384' | 'brainpoolP256r1';

export interface GenKeyOptions {
  algo?: GpgAlgo; // default rsa3072
  uid?: string; // default 'test N <testN@localhost>', unique in this home
  expire?: string; // gpg expiry: 'never' (default), '1d', 'seconds=1'
  /** Add a separate signing subkey of the same algorithm; the primary then only certifies... */
  signingSubkey?: boolean;
  /** ...unless this is true: then primary and subkey can both sign. */
  primaryCanSign?: boolean;
  /** Primary key usage when there is no signing subkey: 'sign' (default) or 'cert' (cannot sign). */
  usage?: 'sign' | 'cert';
  /** Add an encryption subkey, e.g. 'cv25519' or 'rsa3072'. */
  encryptionSubkey?: string;
  /** Pretend the clock reads this (gpg --faked-system-time, e.g. '20200101T000000'). */
  fakedTime?: string;
}

export interface GpgKey {
  fingerprint: string; // primary, 40 lowercase hex
  keyId: string; // primary, 16 lowercase hex
  /** The signing subkey made by `signingSubkey`, else undefined. */
  subkey?: { fingerprint: string; keyId: string };
  uid: string;
}

export interface SignOptions {
  armor?: boolean; // default true
  out?: string; // default IN.asc (armored) or IN.sig (binary)
  fakedTime?: string;
  /** More gpg options, e.g. ['--textmode'] or ['--digest-algo', 'SHA1']. */
  extraArgs?: string[];
}

export interface Gpg {
  home: string;
  /** Runs gpg with this home and --batch; resolves with stdout (utf8). */
  gpg(args: string[]): Promise<string>;
  genKey(options?: GenKeyOptions): Promise<GpgKey>;
  exportPublic(id: string): Promise<string>;
  exportPublicBinary(id: string): Promise<Uint8Array>;
  exportSecret(id: string): Promise<string>;
  /** Detached signature of `path` by `id` (append `!` to force a given subkey); returns its path. */
  signFile(path: string, id: string, options?: SignOptions): Promise<string>;
  /** Imports the revocation certificate gpg made at key generation. */
  revoke(fingerprint: string): Promise<void>;
  /** Writes `data` to a file inside this home (removed by cleanup) and returns its path. */
  writeFile(name: string, data: string | Uint8Array): Promise<string>;
  cleanup(): Promise<void>;
}

const lower = (s: string) => s.toLowerCase();

export async function createGpg(): Promise<Gpg> {
  const home = await mkdtemp(join(tmpdir(), 'acihost-gpg-'));
  await chmod(home, 0o700);
  const env = { ...process.env, GNUPGHOME: home, LC_ALL: 'C' };

  const gpgRaw = async (args: string[], encoding: 'utf8' | 'buffer') => {
    const { stdout } = await run('gpg', ['--batch', '--no-tty', '--quiet', ...args], {
      env,
      encoding,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  };
  const gpg = async (args: string[]) => String(await gpgRaw(args, 'utf8'));
  // Makes the keyring now: gpg processes started together in a new home race to create it,
  // and the losers fail with "no writable public keyring found".
  await gpg(['--list-keys']);
  const faked = (t?: string) => (t ? ['--faked-system-time', `${t}!`] : []);

  const created = (statusOut: string): string => {
    const m = /KEY_CREATED [BPS] ([0-9A-F]{40})/.exec(statusOut);
    if (!m?.[1]) throw new Error(`gpg made no key: ${statusOut}`);
    return lower(m[1]);
  };

  let made = 0;
  const genKey = async (o: GenKeyOptions = {}): Promise<GpgKey> => {
    made += 1;
    const algo = o.algo ?? 'rsa3072';
    const uid = o.uid ?? `test ${made} <test${made}@localhost>`;
    const expire = o.expire ?? 'never';
    const common = ['--yes', '--passphrase', '', '--pinentry-mode', 'loopback', '--status-fd', '1', ...faked(o.fakedTime)];
    const usage = o.signingSubkey ? (o.primaryCanSign ? 'sign' : 'cert') : (o.usage ?? 'sign');
    const fingerprint = created(await gpg([...common, '--quick-gen-key', uid, algo, usage, expire]));
    const key: GpgKey = { fingerprint, keyId: fingerprint.slice(-16), uid };
    if (o.signingSubkey) {
      // For a subkey gpg reads a bare curve name as ECDH; ask for ECDSA explicitly.
      const subAlgo = /^(nistp|brainpool)/.test(algo) ? `${algo}/ecdsa` : algo;
      const sub = created(await gpg([...common, '--quick-add-key', fingerprint, subAlgo, 'sign', expire]));
      key.subkey = { fingerprint: sub, keyId: sub.slice(-16) };
    }
    if (o.encryptionSubkey) {
      await gpg([...common, '--quick-add-key', fingerprint, o.encryptionSubkey, 'encr', expire]);
    }
    return key;
  };

  const signFile = async (path: string, id: string, o: SignOptions = {}) => {
    const armor = o.armor ?? true;
    const out = o.out ?? `${path}.${armor ? 'asc' : 'sig'}`;
    const args = ['--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...faked(o.fakedTime), ...(o.extraArgs ?? [])];
    if (armor) args.push('--armor');
    await gpg([...args, '--local-user', id, '--detach-sign', '-o', out, path]);
    return out;
  };

  const revoke = async (fingerprint: string) => {
    const certPath = join(home, 'openpgp-revocs.d', `${fingerprint.toUpperCase()}.rev`);
    // gpg writes the certificate with a ':' before BEGIN so that it is not imported by accident.
    const cert = (await readFile(certPath, 'utf8')).replace(/^:-----BEGIN/m, '-----BEGIN');
    const fixed = join(home, `${fingerprint}.rev.asc`);
    await writeFile(fixed, cert);
    await gpg(['--import', fixed]);
  };

  const cleanup = async () => {
    await run('gpgconf', ['--kill', 'all'], { env }).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  };

  return {
    home,
    gpg,
    genKey,
    exportPublic: (id) => gpg(['--armor', '--export', id]),
    exportPublicBinary: async (id) => new Uint8Array((await gpgRaw(['--export', id], 'buffer')) as Buffer),
    exportSecret: (id) => gpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys', id]),
    signFile,
    revoke,
    writeFile: async (name, data) => {
      const path = join(home, name);
      await writeFile(path, data);
      return path;
    },
    cleanup,
  };
}
