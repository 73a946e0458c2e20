/**
 * The OpenAPI description served at /-/api/openapi.json: generated from the
 * routes' schemas, complete for every operation, clean under Redocly's
 * recommended rules, and true of what the health routes answer.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const require = createRequire(import.meta.url);
const REDOCLY = join(dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

/** Redocly's findings on a file, offline: no telemetry, no update check. */
function redoclyLint(file: string): Promise<{ code: number; problems: LintProblem[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
    execFile(process.execPath, [REDOCLY, 'lint', '--extends=recommended', '--format=json', file], { env }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      try {
        resolve({ code: err ? Number(err.code) : 0, problems: JSON.parse(stdout).problems, stderr });
      } catch {
        reject(new Error(`redocly printed no report: ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`));
      }
    });
  });
}

describe('OpenAPI description', () => {
  let server: TestServer;
  let contract: ApiContract;

  before(async () => {
    server = await startTestServer();
    contract = await fetchContract(server);
  });
  after(() => server?.close());

  it('passes redocly lint --extends=recommended', async () => {
    const file = join(server.dir, 'openapi.json');
    await writeFile(file, JSON.stringify(contract.document));
    const { code, problems, stderr } = await redoclyLint(file);
    // The test server's origin is localhost, and the project names no licence: nothing else may be reported.
    const expected = new Set(['no-server-example.com', 'info-license']);
    const unexpected = problems.filter((p) => !expected.has(p.ruleId));
    assert.deepEqual(
      unexpected.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`),
      [],
    );
    assert.equal(code, 0, stderr);
  });

  it('gives every operation an operationId, a summary, its security and its 4xx answers', () => {
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries(contract.document.paths)) {
      for (const [method, op] of Object.entries(methods) as [string, Record<string, unknown>][]) {
        const where = `${method} ${path}`;
        assert.ok(typeof op.operationId === 'string' && /^[a-z][A-Za-z]+$/.test(op.operationId), `${where}: operationId`);
        assert.ok(!ids.has(op.operationId as string), `${where}: operationId used twice`);
        ids.add(op.operationId as string);
        assert.ok(typeof op.summary === 'string' && op.summary.length > 10, where);
        assert.ok(Array.isArray(op.security), `${where}: security stated`);
        assert.ok(
          Object.keys(op.responses as object).some((s) => s.startsWith('4')),
          `${where}: 4xx answers`,
        );
      }
    }
    const { paths } = contract.document;
    assert.deepEqual(paths['/-/api/keys']!.get!.security, []);
    assert.deepEqual(paths['/-/api/images/{name}/{version}/{os}/{arch}']!.delete!.security, [{ bearer: [] }, { basic: [] }]);
    for (const op of [paths['/-/api/tokens']!.get!, paths['/-/api/tokens']!.post!, paths['/-/api/tokens/{id}']!.delete!]) {
      assert.deepEqual(op.security, [{ bearer: [] }, { basic: [] }], op.operationId);
    }
  });

  it('describes the body that makes a token, field by field, and closed', () => {
    const post = contract.document.paths['/-/api/tokens']!.post as unknown as {
      requestBody: { content: { 'application/json': { schema: { properties: object; additionalProperties: unknown } } } };
    };
    const schema = post.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties).sort(), ['expires', 'name', 'prefix', 'prefixes', 'scopes']);
    assert.equal(schema.additionalProperties, false);
  });

  it('describes image names as path parameters, not the wildcard the routes match', () => {
    const op = contract.document.paths['/-/api/images/{name}/{version}/{os}/{arch}']!.delete as unknown as {
      parameters: { name: string; in: string; required: boolean }[];
    };
    assert.deepEqual(
      op.parameters.map((p) => `${p.in}:${p.name}:${p.required}`),
      ['path:name:true', 'path:version:true', 'path:os:true', 'path:arch:true'],
    );
    assert.ok(!JSON.stringify(contract.document.paths).includes('{*}'));
  });

  it('matches what the health routes answer', async () => {
    contract.check('getLive', await server.request('/-/health/live'));
    contract.check('getReady', await server.request('/-/health/ready'));
    contract.check('getOpenApi', await server.request('/-/api/openapi.json'));
  });
});
