import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUpstreamReference, manifestReference, parseUpstreamReference } from '../../src/upstream/upstream-reference.ts';
import { isAcihostError } from '../../src/errors.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

test('a tag, a digest, or both; the tag defaults to latest', () => {
  assert.deepEqual(parseUpstreamReference('docker://registry.example.com/team/app:1.2'), {
    registry: 'registry.example.com',
    repository: 'team/app',
    tag: '1.2',
  });
  assert.deepEqual(parseUpstreamReference('registry.example.com:5000/app'), {
    registry: 'registry.example.com:5000',
    repository: 'app',
    tag: 'latest',
  });
  const pinned = parseUpstreamReference(`127.0.0.1:5000/a/b/c@${DIGEST}`);
  assert.deepEqual(pinned, { registry: '127.0.0.1:5000', repository: 'a/b/c', digest: DIGEST });
  const both = parseUpstreamReference(`docker://Localhost:5000/x_y/a-b.c:v1@${DIGEST}`);
  assert.deepEqual(both, { registry: 'localhost:5000', repository: 'x_y/a-b.c', tag: 'v1', digest: DIGEST });
  assert.equal(manifestReference(both), DIGEST, 'the digest is what is fetched');
  assert.equal(manifestReference(parseUpstreamReference('localhost/app')), 'latest');
  assert.equal(formatUpstreamReference(both), `docker://localhost:5000/x_y/a-b.c:v1@${DIGEST}`);
  assert.deepEqual(parseUpstreamReference('[::1]:5000/app:2'), { registry: '[::1]:5000', repository: 'app', tag: '2' });
});

const refused: [string, RegExp][] = [
  ['docker://library/alpine:3', /"library" is not a registry host/],
  ['alpine', /names no registry host/],
  ['https://registry.example.com/app', /only the docker:\/\/ scheme/],
  ['registry.example.com/App:1', /repository part "App"/],
  ['registry.example.com/app:-x', /the tag "-x"/],
  ['registry.example.com/app:', /the tag ""/],
  [`registry.example.com/app@sha512:${'a'.repeat(128)}`, /the digest .* is not sha256:/],
  ['registry.example.com/app@sha256:ABC', /the digest/],
  ['registry.example.com/', /names no repository/],
  ['registry.example.com/a//b', /repository part ""/],
  ['registry.example.com:99999/app', /not a registry host/],
  [`registry.example.com/${'a'.repeat(256)}`, /over 255 characters/],
];

for (const [text, message] of refused) {
  test(`refused with a reason: ${text.slice(0, 60)}`, () => {
    assert.throws(
      () => parseUpstreamReference(text),
      (e: unknown) =>
        isAcihostError(e) &&
        e.code === 'UPSTREAM_REFERENCE_INVALID' &&
        e.kind === 'invalid' &&
        message.test(e.message) &&
        /write it as docker:\/\//.test(e.message),
    );
  });
}
