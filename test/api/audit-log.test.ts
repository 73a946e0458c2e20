/**
 * The audit log: one JSON line per mutation (push, delete, key and token changes
 * from the CLI) under storage audit/, written through the Storage interface as one
 * object per event, and printed by `acihost audit`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { readAudit } from '../helpers/audit.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { fetchContract } from '../helpers/openapi.ts';
import { curlPush } from '../helpers/push.ts';

const FIELDS = ['time', 'actor', 'action', 'name', 'version', 'os', 'arch', 'imageId', 'result', 'code', 'detail'];
const idOf = (token: string) => token.split('_')[1];

describe('audit log', () => {
  let f: Fixture;
  let events: AuditEvent[];
  let revoked: string;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team', cli: true });
    assert.equal((await f.push({ name: 'localhost/team/app', version: '1.0.0' })).status, 201);
    // A CI retry of the same bytes, then a push outside the token's prefix, then a bad signature.
    const aci = join(f.server.dir, 'push-1.aci');
    const same = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci, asc: `${aci}.asc` });
    assert.equal(same.status, 200, same.raw);
    assert.equal((await f.push({ name: 'localhost/elsewhere/app', version: '1.0.0' })).status, 403);
    const v2 = join(f.server.dir, 'v2.aci');
    await writeFile(v2, await buildAci({ name: 'localhost/team/app', version: '2.0.0' }));
    const mismatched = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: v2, asc: `${aci}.asc` });
    assert.equal(mismatched.status, 422, mismatched.raw);
    const deleter = await f.createToken(['--prefix', 'localhost/team', '--scope', 'delete', '--name', 'cleanup']);
    const del = await f.server.request('/-/api/images/localhost/team/app/1.0.0/linux/amd64', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${deleter}` },
    });
    assert.equal(del.status, 200);
    (await fetchContract(f.server)).check('deleteVersion', del);
    revoked = await f.createToken(['--prefix', 'localhost/team']);
    assert.equal((await f.server.cli(['token', 'revoke', idOf(revoked)!])).code, 0);
    assert.equal((await f.server.cli(['key', 'remove', f.key.fingerprint, '--force'])).code, 0);
    events = await readAudit(f.server.storageDir);
  });
  after(() => f?.close());

  it('gives every line the same fields, in time order', () => {
    assert.ok(events.length >= 9, JSON.stringify(events, null, 1));
    for (const e of events) assert.deepEqual(Object.keys(e).sort(), [...FIELDS].sort());
    const times = events.map((e) => e.time);
    assert.deepEqual(times, [...times].sort());
  });

  it('records pushes: created, unchanged and refused ones, with the token id as actor', () => {
    const pushes = events.filter((e) => e.action === 'push');
    assert.deepEqual(
      pushes.map((e) => `${e.name} ${e.result} ${e.code ?? ''}`.trim()),
      [
        'localhost/team/app created',
        'localhost/team/app unchanged',
        'localhost/elsewhere/app refused PREFIX_NOT_ALLOWED',
        'localhost/team/app refused SIGNATURE_MISMATCH',
      ],
    );
    const created = pushes[0]!;
    assert.equal(created.actor, idOf(f.token));
    assert.deepEqual([created.version, created.os, created.arch], ['1.0.0', 'linux', 'amd64']);
    assert.match(created.imageId!, /^sha512-[0-9a-f]{128}$/);
  });

  it('records the delete, and the CLI key and token changes with the operating-system user as actor', () => {
    const del = events.find((e) => e.action === 'delete')!;
    assert.equal(del.result, 'deleted');
    assert.equal(del.name, 'localhost/team/app');
    const cli = events.filter((e) => e.action.startsWith('key.') || e.action.startsWith('token.'));
    assert.deepEqual(
      cli.map((e) => `${e.action} ${e.result}`),
      [
        'key.add added',
        'token.create created',
        'token.create created',
        'token.create created',
        'token.revoke revoked',
        'key.remove removed',
      ],
    );
    for (const e of cli) assert.match(e.actor!, /^cli:/);
    assert.equal(cli[0]!.name, 'localhost/team');
    assert.equal((cli[0]!.detail as { fingerprint: string }).fingerprint, f.key.fingerprint);
    const created = cli.filter((e) => e.action === 'token.create').map((e) => e.detail as { tokenId: string; scopes: string[] });
    assert.deepEqual(created[1]!.scopes, ['delete']);
    assert.equal((cli[4]!.detail as { tokenId: string }).tokenId, idOf(revoked));
    assert.ok(!JSON.stringify(events).includes(f.token.split('_').slice(2).join('_')), 'no secret in the log');
  });

  it('prints the log as JSON lines with acihost audit', async () => {
    const res = await f.server.cli(['audit']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    assert.deepEqual(lines, events);
    const later = await f.server.cli(['audit', '--since', '2999-01-01']);
    assert.equal(later.stdout, '');
    assert.equal((await f.server.cli(['audit', '--since', 'yesterday'])).code, 2);
  });
});
