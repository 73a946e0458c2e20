/**
 * The OpenAPI 3.1 description served at /-/api/openapi.json. The server URL is
 * filled in per request (no origin is stored). Image names contain slashes and are
 * sent unescaped in paths: `{name}` below spans several path segments.
 */
const error = { $ref: '#/components/responses/Error' };
const secured = [{ bearer: [] }, { basic: [] }, {}];

const version = {
  type: 'object',
  required: ['name', 'version', 'os', 'arch', 'imageId', 'size', 'signer', 'pushedAt', 'aciUrl', 'ascUrl'],
  properties: {
    name: { type: 'string', example: 'aci.example.com/team/app' },
    version: { type: 'string', example: '1.0.0' },
    os: { type: 'string', example: 'linux' },
    arch: { type: 'string', example: 'amd64' },
    imageId: { type: 'string', pattern: '^sha512-[0-9a-f]{128}$', description: 'sha512 of the uncompressed tar, in full' },
    size: { type: 'integer', description: 'bytes of the .aci as served' },
    uncompressedSize: { type: 'integer' },
    compression: { type: 'string', enum: ['gzip', 'bzip2', 'xz', 'none'] },
    signer: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'fingerprint of the key that signed it' },
    signerKeyUrl: { type: 'string', format: 'uri' },
    pushedAt: { type: 'string', format: 'date-time' },
    aciUrl: { type: 'string', format: 'uri' },
    ascUrl: { type: 'string', format: 'uri' },
  },
};

const param = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema,
});
const query = (name: string, description: string, schema: object) => ({ name, in: 'query', required: false, description, schema });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });

const paths = {
  '/-/api/images': {
    get: {
      summary: 'Names with the latest version of each os/arch, paginated by cursor',
      security: secured,
      parameters: [
        query('prefix', 'only this name and the names below it (segment-aligned); default: the image domain', { type: 'string' }),
        query('cursor', 'nextCursor from the previous page', { type: 'string' }),
        query('limit', 'names per page', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
      ],
      responses: {
        '200': {
          description: 'One page of names. `latest` is null for a private name unless the token has the pull scope for it.',
          ...json({
            type: 'object',
            properties: {
              images: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    private: { type: 'boolean' },
                    pageUrl: { type: 'string', format: 'uri' },
                    apiUrl: { type: 'string', format: 'uri' },
                    latest: { type: ['array', 'null'], items: { $ref: '#/components/schemas/Version' } },
                  },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          }),
        },
        '401': error,
        '422': error,
      },
    },
  },
  '/-/api/images/{name}': {
    get: {
      summary: "Every version/os/arch of one name, highest first; a private name's need a pull token",
      security: secured,
      parameters: [param('name', 'the image name, slashes unescaped')],
      responses: {
        '200': {
          description: 'The versions; `latest` marks what `latest` resolves to for its os/arch',
          ...json({
            type: 'object',
            properties: {
              name: { type: 'string' },
              private: { type: 'boolean' },
              pageUrl: { type: 'string', format: 'uri' },
              versions: {
                type: 'array',
                items: {
                  allOf: [{ $ref: '#/components/schemas/Version' }, { type: 'object', properties: { latest: { type: 'boolean' } } }],
                },
              },
            },
          }),
        },
        '401': error,
        '403': error,
        '404': error,
      },
    },
  },
  '/-/api/images/{name}/{version}/{os}/{arch}': {
    delete: {
      summary: 'Delete one version: its .aci, .aci.asc and metadata disappear together; latest moves to the next version',
      description:
        'Needs a token with the delete scope for a prefix covering the name. Re-pushing the version afterwards needs the overwrite scope.',
      security: [{ bearer: [] }, { basic: [] }],
      parameters: [
        param('name', 'the image name'),
        param('version', 'an exact version (not latest)'),
        param('os', 'e.g. linux'),
        param('arch', 'e.g. amd64'),
      ],
      responses: {
        '200': {
          description: 'Deleted',
          ...json({
            type: 'object',
            properties: {
              deleted: { $ref: '#/components/schemas/Version' },
              latest: { oneOf: [{ $ref: '#/components/schemas/Version' }, { type: 'null' }] },
            },
          }),
        },
        '401': error,
        '403': error,
        '404': error,
        '422': error,
      },
    },
  },
  '/-/api/keys': {
    get: {
      summary: 'Trusted signing keys and the prefixes they are trusted for',
      responses: {
        '200': {
          description: 'The keys',
          ...json({
            type: 'object',
            properties: {
              keys: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    fingerprint: { type: 'string' },
                    prefixes: { type: 'array', items: { type: 'string' } },
                    algorithm: { type: 'string' },
                    userIds: { type: 'array', items: { type: 'string' } },
                    created: { type: 'string', format: 'date-time' },
                    expires: { type: ['string', 'null'], format: 'date-time' },
                    addedAt: { type: 'string', format: 'date-time' },
                    url: { type: 'string', format: 'uri', description: 'the armored key' },
                  },
                },
              },
            },
          }),
        },
      },
    },
  },
  '/-/api/openapi.json': { get: { summary: 'This description', responses: { '200': { description: 'OpenAPI 3.1' } } } },
};

export function openApiDocument(origin: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'acihost API',
      version: '1',
      description:
        'Images, keys and deletion for tools. Errors are always {"error":{"code","message"}} with stable UPPER_SNAKE_CASE codes. ' +
        'Send a token as Authorization: Bearer TOKEN, or as the password of Basic auth.',
    },
    servers: [{ url: origin }],
    paths,
    components: {
      schemas: {
        Version: version,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
      responses: { Error: { description: 'Refused; the message says what to do', ...json({ $ref: '#/components/schemas/Error' }) } },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        basic: { type: 'http', scheme: 'basic', description: 'any user name, the token as password' },
      },
    },
  };
}
