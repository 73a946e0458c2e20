/**
 * References to images in an upstream OCI/Docker registry, as the distribution
 * project writes them (distribution/reference `regexp.go`), except that the
 * registry is always named: acihost has no default registry to guess.
 *
 *   docker://registry.example.com/team/app:1.2
 *   registry.example.com:5000/team/app@sha256:...
 *   registry.example.com/team/app:1.2@sha256:...   (the digest is what is fetched)
 */
import { invalid } from '../errors.ts';

export interface UpstreamReference {
  /** `host[:port]`, lower-cased. */
  registry: string;
  repository: string;
  /** The tag as given, or `latest` when neither tag nor digest is. */
  tag?: string;
  /** `sha256:HEX`, when given. */
  digest?: string;
}

const SCHEME = 'docker://';
// A path component: lower-case alphanumerics joined by one '.', one or two '_', or any run of '-'.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST_LABEL = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const MAX_NAME = 255;
const EXAMPLE = 'docker://registry.example.com/team/app:1.2';

/** Parses an upstream image reference; throws UPSTREAM_REFERENCE_INVALID saying what is wrong. */
export function parseUpstreamReference(text: string): UpstreamReference {
  const bad = (why: string): never => {
    throw invalid('UPSTREAM_REFERENCE_INVALID', `upstream image ${JSON.stringify(text)}: ${why}; write it as ${EXAMPLE}`);
  };
  let rest = text.startsWith(SCHEME) ? text.slice(SCHEME.length) : text;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) bad('only the docker:// scheme is understood');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad(`the digest ${JSON.stringify(digest)} is not sha256: and 64 lower-case hexadecimal digits`);
  }

  const slash = rest.indexOf('/');
  if (slash === -1) bad('it names no registry host before the repository');
  const registry = rest.slice(0, slash).toLowerCase();
  let name = rest.slice(slash + 1);
  if (!isRegistryHost(registry)) {
    bad(`${JSON.stringify(registry)} is not a registry host (a name with a dot, localhost, or an address, with an optional :port)`);
  }

  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon !== -1) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) bad(`the tag ${JSON.stringify(tag)} is not 1-128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')`);
  }
  if (name === '') bad('it names no repository');
  if (name.length > MAX_NAME) bad(`the repository name is over ${MAX_NAME} characters`);
  const wrong = name.split('/').find((c) => !COMPONENT.test(c));
  if (wrong !== undefined) {
    bad(`the repository part ${JSON.stringify(wrong)} is not lower-case letters and digits joined by '.', '_', '__' or '-'`);
  }

  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: name, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** What to ask the registry's manifest endpoint for: the digest when there is one, else the tag. */
export const manifestReference = (ref: UpstreamReference): string => ref.digest ?? ref.tag ?? 'latest';

/** The reference written back, `docker://` included. */
export function formatUpstreamReference(ref: UpstreamReference): string {
  return `${SCHEME}${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

function isRegistryHost(host: string): boolean {
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(host);
  if (bracketed) return bracketed[2] === undefined || validPort(bracketed[2]);
  const [name, port, ...more] = host.split(':');
  if (more.length > 0 || name === undefined || name === '') return false;
  if (port !== undefined && !validPort(port)) return false;
  if (!name.split('.').every((label) => HOST_LABEL.test(label))) return false;
  // As docker does: a first component without a dot or port is a repository, not a host.
  return name.includes('.') || port !== undefined || name === 'localhost';
}

const validPort = (port: string): boolean => /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
