/**
 * The usual integration set-up: a server, a gpg home with one RSA key trusted
 * for a prefix, a push token for it, and a one-call signed push. The key and the
 * token are made through the running server's registry, the services the CLI
 * calls, unless `cli` asks for the CLI itself: each CLI process costs a test the
 * better part of a second, and the CLI's own tests cover it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { buildAci, type BuildAciOptions } from './aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from './gpg.ts';
import { curlPush, type CurlResult } from './push.ts';
import { startTestServer, trustWithPushToken, type TestServer } from './server.ts';

export interface Fixture {
  server: TestServer;
  gpg: Gpg;
  key: GpgKey;
  token: string;
  /** Builds, signs and pushes an image; returns curl's result and the .aci bytes. */
  push(opts: BuildAciOptions): Promise<CurlResult & { aci: Buffer }>;
  trust(key: GpgKey, prefix: string): Promise<void>;
  createToken(args: string[]): Promise<string>;
  close(): Promise<void>;
}

let files = 0;

export async function createFixture(
  opts: { prefix?: string; config?: Record<string, unknown>; env?: Record<string, string>; cli?: boolean } = {},
): Promise<Fixture> {
  const prefix = opts.prefix ?? 'localhost';
  const [server, gpg] = await Promise.all([startTestServer({ config: opts.config, env: opts.env }), createGpg()]);
  const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
  const fixture: Fixture = {
    server,
    gpg,
    key,
    token: '',
    async trust(k, p) {
      const file = join(server.dir, `${k.fingerprint}.asc`);
      await writeFile(file, await gpg.exportPublic(k.fingerprint));
      const r = await server.cli(['key', 'add', '--prefix', p, file]);
      assert.equal(r.code, 0, r.stderr);
    },
    async createToken(args) {
      const r = await server.cli(['token', 'create', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split('\n')[0]!;
    },
    async push(build) {
      const aci = await buildAci(build);
      const aciPath = join(server.dir, `push-${++files}.aci`);
      await writeFile(aciPath, aci);
      const ascPath = await gpg.signFile(aciPath, fixture.key.fingerprint);
      const res = await curlPush({ origin: server.origin, caFile: server.caFile, token: fixture.token, aci: aciPath, asc: ascPath });
      return { ...res, aci };
    },
    async close() {
      await server.close();
      await gpg.cleanup();
    },
  };
  if (opts.cli) {
    await fixture.trust(key, prefix);
    fixture.token = await fixture.createToken(['--prefix', prefix]);
  } else {
    fixture.token = await trustWithPushToken(server.running.registry, prefix, await gpg.exportPublic(key.fingerprint), 'test:fixture');
  }
  return fixture;
}
