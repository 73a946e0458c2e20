import { prefixCovers } from '../../names.ts';
import { forbidden, unauthenticated } from '../../errors.ts';
import type { TokenRecord } from './tokens.ts';

/**
 * Who may read what. Under a private prefix, downloads need a token with the `pull`
 * scope for a prefix covering the name, and listings of versions and sizes are shown
 * only to such a token. Discovery pages and keys always stay public: rkt sends no
 * credentials for keys, and names are already in the public meta tags.
 */
export class ReadAccess {
  private readonly privatePrefixes: readonly string[];

  constructor(privatePrefixes: readonly string[]) {
    this.privatePrefixes = privatePrefixes;
  }

  /** Whether any prefix is private at all: if none, credentials never change what a reader sees. */
  get any(): boolean {
    return this.privatePrefixes.length > 0;
  }

  isPrivate(name: string): boolean {
    return this.privatePrefixes.some((p) => prefixCovers(p, name));
  }

  /** Whether `viewer` may see the versions (and download the files) of `name`. */
  mayRead(viewer: TokenRecord | undefined, name: string): boolean {
    if (!this.isPrivate(name)) return true;
    return !!viewer && viewer.scopes.includes('pull') && viewer.prefixes.some((p) => prefixCovers(p, name));
  }

  /**
   * Whether `viewer` may see what the names at and below `prefix` hold together (a quota's use
   * sums their sizes): always, unless a private prefix overlaps it; then only with the pull scope
   * for a prefix covering it.
   */
  mayReadAllUnder(viewer: TokenRecord | undefined, prefix: string): boolean {
    if (!this.privatePrefixes.some((p) => prefixCovers(p, prefix) || prefixCovers(prefix, p))) return true;
    return !!viewer && viewer.scopes.includes('pull') && viewer.prefixes.some((p) => prefixCovers(p, prefix));
  }

  /** Throws the 401 or 403 that a request for a private name's files or versions deserves. */
  authorizeRead(viewer: TokenRecord | undefined, name: string): void {
    if (this.mayRead(viewer, name)) return;
    if (!viewer) {
      throw unauthenticated(
        'TOKEN_MISSING',
        `${name} is private: send a token with the pull scope (Authorization: Bearer TOKEN, or rkt's auth.d); acihost token create --scope pull makes one`,
      );
    }
    if (!viewer.scopes.includes('pull')) {
      throw forbidden('TOKEN_SCOPE_MISSING', `${name} is private and the token lacks the pull scope; create one with --scope pull`);
    }
    throw forbidden(
      'PREFIX_NOT_ALLOWED',
      `the token may pull only under ${viewer.prefixes.join(', ')}, not ${name}; use a token created with --prefix covering it`,
    );
  }
}
