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
};
