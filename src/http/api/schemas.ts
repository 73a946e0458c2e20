/**
 * JSON schemas of the API's answers, shared by the routes' `schema.response`
 * and, through them, the OpenAPI description (src/http/api/openapi.ts). They
 * describe exactly what the handlers send: the API tests validate every answer
 * against the served description with no extra field allowed.
 */
import type { FastifyInstance } from 'fastify';
import { tokenProperties, tokenRequired } from './token-json.ts';

/** Fastify's shared-schema reference to one of the schemas below. */
export const ref = (id: keyof typeof shared) => ({ $ref: `${id}#` });

const versionProperties = {
  name: { type: 'string', examples: ['aci.example.com/team/app'] },
  version: { type: 'string', examples: ['1.0.0'] },
  os: { type: 'string', examples: ['linux'] },
  arch: { type: 'string', examples: ['amd64'] },
  imageId: { type: 'string', pattern: '^sha512-[0-9a-f]{128}$', description: 'sha512 of the uncompressed tar, in full' },
  size: { type: 'integer', minimum: 0, description: 'bytes of the .aci as served' },
  uncompressedSize: { type: 'integer', minimum: 0 },
  compression: { type: 'string', enum: ['gzip', 'bzip2', 'xz', 'none'] },
  signer: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'fingerprint of the key that signed it' },
  signerKeyUrl: { type: 'string', format: 'uri' },
  pushedAt: { type: 'string', format: 'date-time' },
  aciUrl: { type: 'string', format: 'uri' },
  ascUrl: { type: 'string', format: 'uri' },
} as const;

const versionRequired = Object.keys(versionProperties);

const shared = {
  Error: {
    type: 'object',
    description: 'Refused; the code is stable UPPER_SNAKE_CASE and the message says what to do',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' }, message: { type: 'string' } },
      },
    },
  },
  Version: { type: 'object', description: 'One published version', required: versionRequired, properties: versionProperties },
  ListedVersion: {
    type: 'object',
    description: 'One published version; `latest` marks what `latest` resolves to for its os/arch',
    required: [...versionRequired, 'latest'],
    properties: { ...versionProperties, latest: { type: 'boolean' } },
  },
  Token: { type: 'object', description: 'A token, without its secret', required: tokenRequired, properties: tokenProperties },
  Quota: {
    type: 'object',
    description: 'A quota: the most bytes and versions the names at or below its prefix may hold together, and what they hold',
    required: ['prefix', 'maxBytes', 'maxVersions', 'usedBytes', 'usedVersions', 'setAt'],
    properties: {
      prefix: { type: 'string', examples: ['aci.example.com/team'] },
      maxBytes: { type: ['integer', 'null'], minimum: 0, description: 'bytes of .aci files; null: no limit' },
      maxVersions: { type: ['integer', 'null'], minimum: 0, description: 'versions (each version, os and arch once); null: no limit' },
      usedBytes: {
        type: ['integer', 'null'],
        minimum: 0,
        description: 'bytes published there now; null unless the viewer may see every name there (a private prefix overlaps it)',
      },
      usedVersions: { type: ['integer', 'null'], minimum: 0, description: 'versions published there now; null as for usedBytes' },
      setAt: { type: 'string', format: 'date-time' },
    },
  },
  RetentionRemoval: {
    type: 'object',
    description: 'A version the retention policies would remove; `size` is what removing it frees',
    required: ['name', 'version', 'os', 'arch', 'size', 'pushedAt', 'policy'],
    properties: {
      name: versionProperties.name,
      version: versionProperties.version,
      os: versionProperties.os,
      arch: versionProperties.arch,
      size: versionProperties.size,
      pushedAt: versionProperties.pushedAt,
      policy: { type: 'string', description: 'the prefix of the policy that removes it', examples: ['aci.example.com/team'] },
    },
  },
} as const;

/** Adds the shared schemas to the root instance, where every route and the OpenAPI generator see them. */
export function addApiSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(shared)) app.addSchema({ $id: id, ...schema });
}

/** Who may call an operation: nobody needs a token, a token is needed, or one is optional (it shows more). */
type Requirement = Record<string, string[]>;
export const security: Record<'public' | 'token' | 'optionalToken', Requirement[]> = {
  public: [],
  token: [{ bearer: [] }, { basic: [] }],
  optionalToken: [{ bearer: [] }, { basic: [] }, {}],
};

const ERROR_MEANING: Record<number, string> = {
  400: 'The body is not valid JSON, or is empty, though its Content-Type says JSON',
  401: 'No token, or one that is not valid (WWW-Authenticate says how to send one)',
  403: 'The token lacks the scope or the prefix for this',
  404: 'Nothing by that name',
  413: 'The body is larger than the route reads',
  422: 'A parameter is not valid; the code names which',
  429: 'Too many failed authentications from this address; requests with credentials wait for Retry-After',
  502: 'An upstream registry failed, refused the credentials or sent bytes that do not match their digest; the code says which',
  504: 'An upstream registry stalled, or a conversion under way took longer than the wait allowed',
};

/** The refusals an operation answers with, each in the shape {"error":{"code","message"}}. */
export function errorResponses(...statuses: (keyof typeof ERROR_MEANING)[]): Record<number, object> {
  return Object.fromEntries(statuses.map((s) => [s, { description: ERROR_MEANING[s], ...ref('Error') }]));
}
