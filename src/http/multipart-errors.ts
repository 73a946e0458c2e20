import { isAcihostError, malformed } from '../errors.ts';

export const PUSH_RECIPE = 'curl -F asc=@IMAGE.aci.asc -F aci=@IMAGE.aci';

/** A part the push does not take: anything but one `asc` and one `aci` file. */
export const unexpectedPart = (name: string | undefined) =>
  malformed(
    'PUSH_UNEXPECTED_PART',
    `${name === undefined ? 'a form part past the two expected' : `unexpected form part ${JSON.stringify(name)}`}; ` +
      `a push has exactly two parts, asc (the signature) and aci (the image file): ${PUSH_RECIPE}`,
  );

// @fastify/multipart's codes, and @fastify/busboy's messages (it has no codes).
const TOO_MANY_PARTS = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT', 'FST_PROTO_VIOLATION']);
const NO_BOUNDARY = /^(Multipart: Boundary not found|Boundary required|Unsupported Content-Type\.|The needle cannot .*)$/;
const CUT_SHORT = /Unexpected end of (multipart data|form)|terminated early/;

/**
 * The multipart parser's failures as the push's typed refusals; anything else
 * (a domain error, a storage failure, a client gone) is returned as it is.
 */
export function multipartRefusal(e: unknown): unknown {
  if (isAcihostError(e) || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TOO_MANY_PARTS.has(code)) return unexpectedPart(undefined);
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || NO_BOUNDARY.test(e.message)) {
    return malformed(
      'PUSH_NOT_MULTIPART',
      `the body is not multipart/form-data with a boundary of 1 to 70 characters; send it as ${PUSH_RECIPE}`,
      e,
    );
  }
  if (code === 'FST_MP_PREMATURE_CLOSE' || CUT_SHORT.test(e.message)) {
    return malformed(
      'PUSH_MULTIPART_MALFORMED',
      `the multipart body is cut short or malformed (it ends before its closing boundary); send it as ${PUSH_RECIPE}`,
      e,
    );
  }
  return e;
}
