import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { parsePublicKeys } from '../../src/signing/keys.ts';
import { readDetachedSignature, type DetachedSignature } from '../../src/signing/signature.ts';
import { createVerifier, verifyDetached, type TrustedKey } from '../../src/signing/verifier.ts';
import { createGpg } from '../helpers/gpg.ts';
import type { Gpg, GpgKey } from '../helpers/gpg.ts';

const SIZE = 8 * 1024 * 1024;
let g: Gpg;
let main: GpgKey; // rsa3072, signs with its primary key
let other: GpgKey; // nistp256, not trusted unless a test says so
let withSubkey: GpgKey; // rsa2048 primary that can sign, plus a signing subkey
let data: Buffer;
let file: string;
let trusted: TrustedKey;
let otherTrusted: TrustedKey;

before(async () => {
  g = await createGpg();
  [main, other, withSubkey] = await Promise.all([
    g.genKey({ algo: 'rsa3072' }),
    g.genKey({ algo: 'nistp256' }),
    g.genKey({ algo: 'rsa2048', signingSubkey: true, primaryCanSign: true }),
  ]);
  data = randomBytes(SIZE);
  file = await g.writeFile('app.aci', data);
  trusted = await trust(main);
  otherTrusted = await trust(other);
});
after(() => g.cleanup());

async function trust(key: GpgKey): Promise<TrustedKey> {
  const [info] = await parsePublicKeys(await g.exportPublic(key.fingerprint));
  assert.ok(info);
  return { fingerprint: info.fingerprint, armored: info.armored };
}

async function sign(id: string, options: { armor?: boolean; fakedTime?: string; name?: string } = {}): Promise<DetachedSignature> {
  const out = `${file}.${options.name ?? id.replace('!', 'x')}.${options.armor === false ? 'sig' : 'asc'}`;
  return readDetachedSignature(await readFile(await g.signFile(file, id, { ...options, out })));
}

const refused = (code: string, message?: RegExp) => ({ code, kind: 'invalid', ...(message ? { message } : {}) });

describe('verification over a stream', () => {
  it('verifies a multi-MiB file streamed from disk', async () => {
    const sig = await sign(main.fingerprint);
    const result = await verifyDetached(sig, [trusted], createReadStream(file, { highWaterMark: 64 * 1024 }));
    assert.deepEqual(result, { signerFingerprint: main.fingerprint });
  });

  it('verifies exactly the bytes written into the sink, in small chunks', async () => {
    const sig = await sign(main.fingerprint);
    const { sink, result } = createVerifier(sig, [otherTrusted, trusted]);
    await pipeline(createReadStream(file, { highWaterMark: 1000 }), sink);
    assert.deepEqual(await result, { signerFingerprint: main.fingerprint });
  });

  it('refuses changed, cut or empty data', async () => {
    const sig = await sign(main.fingerprint);
    const flipped = Buffer.from(data);
    flipped[SIZE - 1] = (flipped[SIZE - 1] ?? 0) ^ 1;
    const message = /^the signature does not match the \.aci bytes; sign the exact file: gpg --armor --detach-sign FILE\.aci$/;
    for (const bytes of [flipped, data.subarray(0, SIZE - 1), Buffer.alloc(0)]) {
      await assert.rejects(verifyDetached(sig, [trusted], Readable.from([bytes])), refused('SIGNATURE_MISMATCH', message));
    }
  });

  it('accepts a binary signature and one that lost its CRC24 line', async () => {
    const binary = await sign(main.fingerprint, { armor: false });
    assert.deepEqual(await verifyDetached(binary, [trusted], createReadStream(file)), { signerFingerprint: main.fingerprint });
    const text = await readFile(await g.signFile(file, main.fingerprint, { out: `${file}.nocrc.asc` }), 'utf8');
    const noCrc = await readDetachedSignature(new TextEncoder().encode(text.replace(/^=.{4}\n/m, '')));
    assert.match(noCrc.armored, /^=.{4}$/m);
    assert.deepEqual(await verifyDetached(noCrc, [trusted], createReadStream(file)), { signerFingerprint: main.fingerprint });
  });

  it('accepts a signature made by a clock that runs an hour ahead (rkt does not check times)', async () => {
    const ahead = new Date(Date.now() + 3600_000).toISOString().replace(/[-:]/g, '').slice(0, 15);
    const sig = await sign(main.fingerprint, { fakedTime: ahead, name: 'ahead' });
    assert.deepEqual(await verifyDetached(sig, [trusted], createReadStream(file)), { signerFingerprint: main.fingerprint });
  });

  it('passes a sink error on as the verdict', async () => {
    const sig = await sign(main.fingerprint);
    const { sink, result } = createVerifier(sig, [trusted]);
    sink.on('error', () => undefined); // a destroyed Writable emits its error; the verdict carries it
    sink.write(data.subarray(0, 1000));
    sink.destroy(new Error('client went away'));
    await assert.rejects(result, /client went away/);
  });
});

describe('untrusted signers', () => {
  it('names the key id and the acihost key add command, before any data arrives', async () => {
    const sig = await sign(other.fingerprint);
    const { sink, result } = createVerifier(sig, [trusted], { name: 'example.com/app' });
    await assert.rejects(
      result,
      refused('SIGNATURE_UNTRUSTED_KEY', new RegExp(`key ${other.keyId}.*acihost key add --prefix example\\.com/app`)),
    );
    assert.equal(sink.writableFinished, false);
    await pipeline(createReadStream(file), sink); // the sink still drains everything written into it
  });

  it('stops reading the data in verifyDetached', async () => {
    const sig = await sign(other.fingerprint);
    const stream = createReadStream(file, { highWaterMark: 16 * 1024 });
    await assert.rejects(verifyDetached(sig, [], stream), refused('SIGNATURE_UNTRUSTED_KEY'));
    assert.ok(stream.destroyed);
    assert.ok(stream.bytesRead < SIZE);
  });
});

describe('keys with subkeys, other algorithms', () => {
  it('accepts a signature by the signing subkey and reports the primary fingerprint', async () => {
    const subkeyId = withSubkey.subkey?.keyId ?? '';
    const sig = await sign(`${withSubkey.subkey?.fingerprint}!`);
    assert.equal(sig.issuerKeyId, subkeyId);
    const key = await trust(withSubkey);
    const result = await verifyDetached(sig, [trusted, key], createReadStream(file));
    assert.deepEqual(result, { signerFingerprint: withSubkey.fingerprint });
  });

  it('accepts a signature by the primary key of a key that also has a signing subkey', async () => {
    const sig = await sign(`${withSubkey.fingerprint}!`);
    assert.equal(sig.issuerKeyId, withSubkey.keyId);
    const result = await verifyDetached(sig, [await trust(withSubkey)], createReadStream(file));
    assert.deepEqual(result, { signerFingerprint: withSubkey.fingerprint });
  });

  it('verifies ECDSA P-256 and DSA signatures', async () => {
    const dsa = await g.genKey({ algo: 'dsa2048' });
    for (const key of [other, dsa]) {
      const result = await verifyDetached(await sign(key.fingerprint), [await trust(key)], createReadStream(file));
      assert.deepEqual(result, { signerFingerprint: key.fingerprint });
    }
  });
});

describe('keys that expired or were revoked after signing', () => {
  it('refuses a signature by a key that has expired since', async () => {
    const key = await g.genKey({ algo: 'nistp256', expire: '1d', fakedTime: '20200101T000000' });
    const sig = await sign(key.fingerprint, { fakedTime: '20200101T010000' });
    const stored = { fingerprint: key.fingerprint, armored: await g.exportPublic(key.fingerprint) };
    await assert.rejects(verifyDetached(sig, [stored], createReadStream(file)), refused('SIGNATURE_KEY_EXPIRED', /expired/));
  });

  it('refuses a signature by a key that has been revoked since', async () => {
    const key = await g.genKey({ algo: 'nistp256' });
    const sig = await sign(key.fingerprint);
    const before = { fingerprint: key.fingerprint, armored: await g.exportPublic(key.fingerprint) };
    assert.deepEqual(await verifyDetached(sig, [before], createReadStream(file)), { signerFingerprint: key.fingerprint });
    await g.revoke(key.fingerprint);
    const stored = { fingerprint: key.fingerprint, armored: await g.exportPublic(key.fingerprint) };
    await assert.rejects(verifyDetached(sig, [stored], createReadStream(file)), refused('SIGNATURE_KEY_REVOKED', /revoked/));
  });
});
