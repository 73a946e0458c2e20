/**
 * The usual acpush test set-up: the integration fixture (server, gpg key trusted
 * for a prefix, push token) plus signed images in memory and the replaying
 * acpush client bound to the server, with the token as Basic password.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAci, type BuildAciOptions } from './aci-builder.ts';
import { acpush, type AcpushOptions, type AcpushResult } from './acpush-client.ts';
import { createFixture, type Fixture } from './fixture.ts';
import type { GpgKey } from './gpg.ts';

export interface AcpushFixture extends Fixture {
  /** An ACI named under the prefix unless told otherwise, and its armored signature. */
  signed(build: BuildAciOptions, signer?: GpgKey): Promise<{ aci: Buffer; asc: Buffer }>;
  /** acpush against this server with the fixture's token (Basic, user `any`) unless `auth` says otherwise. */
  acpush(o: Omit<AcpushOptions, 'origin' | 'ca'>): Promise<AcpushResult>;
  /** Waits until the server has seen the trusted keys (one trusted through the CLI, another process, within 2 s). */
  keysVisible(path: string): Promise<void>;
}

let files = 0;

export async function createAcpushFixture(opts: { prefix: string; config?: Record<string, unknown> }): Promise<AcpushFixture> {
  const fx = await createFixture(opts);
  const acpushFx: AcpushFixture = Object.assign(fx, {
    async signed(build: BuildAciOptions, signer: GpgKey = fx.key) {
      const aci = await buildAci({ name: `${opts.prefix}/app`, ...build });
      const path = join(fx.server.dir, `acpush-${++files}.aci`);
      await writeFile(path, aci);
      return { aci, asc: await readFile(await fx.gpg.signFile(path, signer.fingerprint)) };
    },
    acpush(o: Omit<AcpushOptions, 'origin' | 'ca'>) {
      return acpush({ origin: fx.server.origin, ca: fx.server.caPem, auth: { basic: { user: 'any', password: fx.token } }, ...o });
    },
    async keysVisible(path: string) {
      for (const start = Date.now(); Date.now() - start < 3000; await new Promise((r) => setTimeout(r, 50))) {
        const res = await fx.server.request(`${path}?ac-discovery=1`);
        if (res.status === 200 && res.body.toString().includes('ac-discovery-pubkeys')) return;
      }
      throw new Error(`the server did not see the trusted key at ${path}`);
    },
  });
  return acpushFx;
}
