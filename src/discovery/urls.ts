/**
 * The public URLs acihost hands out, rendered from the origin at request time
 * (never stored). File URLs are path-style under /-/ and carry no query string:
 * rkt substitutes label values verbatim, and a `+` in a query would read as a space.
 */
export const urls = {
  aciTemplate: (origin: string) => `${origin}/-/aci/{name}/{version}/{os}/{arch}.{ext}`,
  aci: (origin: string, c: { name: string; version: string; os: string; arch: string }, ext: 'aci' | 'aci.asc') =>
    `${origin}/-/aci/${c.name}/${c.version}/${c.os}/${c.arch}.${ext}`,
  key: (origin: string, fingerprint: string) => `${origin}/-/keys/${fingerprint}.asc`,
  /** acpush POSTs here to start an upload (src/http/routes/acpush.ts); `{ext}` is always `aci`. */
  pushTemplate: (origin: string) => `${origin}/-/acpush/start/{name}/{version}/{os}/{arch}.{ext}`,
  /** An upload session's part and completion URLs; acpush needs them absolute. */
  upload: (origin: string, sessionId: string, what: 'manifest' | 'signature' | 'aci' | 'complete') =>
    `${origin}/-/acpush/uploads/${sessionId}/${what}`,
};
