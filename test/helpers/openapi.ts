/**
 * Checks answers against the OpenAPI description the server serves: the status
 * must be one the operation documents, and the JSON body must match that
 * response's schema with no field the description does not name (objects are
 * closed here, not in the served document, so clients may still ignore fields
 * added later).
 */
import assert from 'node:assert/strict';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { TestServer } from './server.ts';

type Schema = Record<string, unknown>;

export interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  [key: string]: unknown;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
  [key: string]: unknown;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ApiContract {
  document: OpenApiDocument;
  /** Fails unless `answer` is one that operation `operationId` documents. */
  check(operationId: string, answer: Answer): void;
}

export async function fetchContract(server: TestServer): Promise<ApiContract> {
  const res = await server.request('/-/api/openapi.json');
  assert.equal(res.status, 200);
  const document = JSON.parse(res.body.toString()) as OpenApiDocument;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const compiled = new Map<string, ValidateFunction>();

  // Shared schemas inlined, so that each object can be closed where it is used.
  const close = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(close);
    if (typeof schema !== 'object' || schema === null) return schema;
    const s = schema as Schema;
    if (typeof s.$ref === 'string') {
      const name = s.$ref.replace('#/components/schemas/', '');
      assert.ok(document.components.schemas[name], `unknown schema ${s.$ref}`);
      return close(document.components.schemas[name]);
    }
    const out: Schema = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, close(v)]));
    if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
    return out;
  };

  const operation = (operationId: string) => {
    for (const [path, methods] of Object.entries(document.paths))
      for (const [method, op] of Object.entries(methods)) if (op.operationId === operationId) return { path, method, op };
    assert.fail(`no operation ${operationId} in the served description`);
  };

  return {
    document,
    check(operationId, answer) {
      const { path, method, op } = operation(operationId);
      const where = `${method.toUpperCase()} ${path} ${answer.status}`;
      const response = op.responses[String(answer.status)];
      assert.ok(response, `${where}: status not documented (${answer.body.toString().slice(0, 200)})`);
      const media = response.content?.['application/json'];
      if (!media) return;
      assert.match(String(answer.headers['content-type']), /^application\/json/, where);
      let validate = compiled.get(where);
      if (!validate) compiled.set(where, (validate = ajv.compile(close(media.schema) as Schema)));
      const body: unknown = JSON.parse(answer.body.toString());
      assert.ok(validate(body), `${where}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
    },
  };
}
