/**
 * Every error code acihost gives, once each, with what it means. `ErrorCode` is
 * derived from it, so a code that is not listed here fails the type check, and
 * the table in docs/http-api.md is rendered from it (`npm run docs:errors`).
 *
 * A code thrown as an AcihostError has a kind; the HTTP layer alone turns the
 * kind into a status (src/http/error-handler.ts). A code that the HTTP layer
 * answers by itself, without an AcihostError, names the status it answers with,
 * for the docs only.
 */
/** What went wrong, in the terms the HTTP layer answers by (src/http/error-handler.ts). */
export type ErrorKind =
  | 'malformed' // the request itself is unusable (400 on /-/push only)
  | 'invalid' // archive, manifest, signature or key fails validation (422)
  | 'unauthenticated' // missing or wrong credentials (401)
  | 'forbidden' // credentials fine, but not for this name or scope (403)
  | 'not-found' // (404)
  | 'conflict' // write-once violated (409)
  | 'too-large' // over a configured cap (413)
  | 'too-many' // over what one token may hold or send at once; retry later (429)
  | 'unavailable' // the store is away (503)
  | 'insufficient-storage' // disk full (507)
  | 'bad-gateway' // an upstream registry failed or answered wrongly (502)
  | 'gateway-timeout'; // an upstream registry stalled (504)

interface Thrown {
  kind: ErrorKind;
  about: string;
  /** Met only as the reason of an acpush completion (always a 200), or only on the command line. */
  only?: 'completion' | 'cli';
}

interface AnsweredByHttpLayer {
  docStatus: number;
  about: string;
}

/** An InternalError: it goes to the server log, and the client is answered INTERNAL. */
interface Internal {
  internal: true;
  about: string;
}

export type CatalogueEntry = Thrown | AnsweredByHttpLayer | Internal;

export const ERROR_CODES = {
  // malformed
  PUSH_NOT_MULTIPART: { kind: 'malformed', about: 'the push body is not `multipart/form-data` with a usable boundary' },
  PUSH_MULTIPART_MALFORMED: { kind: 'malformed', about: 'the multipart body is cut short or malformed' },
  PUSH_UNEXPECTED_PART: { kind: 'malformed', about: 'a form part besides one `asc` and one `aci`, named in the message' },
  PUSH_IMAGE_MISSING: { kind: 'malformed', about: 'the push has no `aci` part' },
  SIGNATURE_MISSING: { kind: 'malformed', about: 'the push or upload has no signature; every image must be signed' },
  UPLOAD_ABORTED: { kind: 'malformed', about: 'the image stopped before the archive was complete' },

  // unauthenticated
  TOKEN_MISSING: { kind: 'unauthenticated', about: 'this needs a token and none was sent' },
  TOKEN_INVALID: { kind: 'unauthenticated', about: 'the token is unknown, revoked or mistyped' },
  TOKEN_EXPIRED: { kind: 'unauthenticated', about: 'the token has expired' },

  // forbidden
  TOKEN_SCOPE_MISSING: { kind: 'forbidden', about: 'the token lacks the scope for this, such as `push` or `pull`' },
  PREFIX_NOT_ALLOWED: { kind: 'forbidden', about: "the name is outside the token's prefixes" },
  ACPUSH_UPLOAD_NOT_YOURS: { kind: 'forbidden', about: 'a token other than the one that started the upload sent to it' },
  TOKEN_PREFIX_NOT_ALLOWED: { kind: 'forbidden', about: "a new token's prefix is not at or below the admin token's own prefixes" },
  TOKEN_SCOPE_NOT_ALLOWED: {
    kind: 'forbidden',
    about: 'only an admin token for the whole image domain may grant `metrics`, which no prefix bounds',
  },
  TOKEN_EXPIRY_NOT_ALLOWED: { kind: 'forbidden', about: 'the new token would outlive the admin token that makes it' },
  QUOTA_EXCEEDED: {
    kind: 'forbidden',
    about: 'the push would take a prefix past its quota of bytes or versions; the message names the quota and its use',
  },

  // not-found
  IMAGE_NOT_FOUND: { kind: 'not-found', about: 'no such image, version or platform, or a URL no push could have made' },
  API_NOT_FOUND: { kind: 'not-found', about: 'no such JSON API route' },
  KEY_NOT_FOUND: { kind: 'not-found', about: 'no trusted key with that fingerprint' },
  KEYS_FILE_EMPTY: { kind: 'not-found', about: 'no key is trusted for that prefix, so it has no `pubkeys.gpg`' },
  ACPUSH_URL_INVALID: { kind: 'not-found', about: 'an acpush start URL without NAME/VERSION/OS/ARCH.aci' },
  ACPUSH_UPLOAD_NOT_FOUND: { kind: 'not-found', about: 'no such upload: completed, discarded or never started' },
  ACPUSH_UPLOAD_EXPIRED: { kind: 'not-found', about: 'the upload was idle past `acpush.uploadExpirySeconds` and was removed' },
  ACPUSH_PART_UNKNOWN: { kind: 'not-found', about: 'an upload part other than manifest, signature and aci' },
  TOKEN_NOT_FOUND: { kind: 'not-found', about: 'no token with that id, or none the admin token may see' },
  QUOTA_NOT_FOUND: { kind: 'not-found', only: 'cli', about: 'no quota is set for that prefix' },
  RETENTION_POLICY_NOT_FOUND: { kind: 'not-found', only: 'cli', about: 'no retention policy for exactly that prefix' },

  // conflict
  VERSION_EXISTS: { kind: 'conflict', about: 'that version is published with other bytes; versions are write-once' },
  VERSION_DELETED: { kind: 'conflict', about: 'that version was published and deleted; versions are write-once' },
  ACPUSH_PART_EXISTS: { kind: 'conflict', about: 'that part of the upload was already sent; each is sent once' },
  ACPUSH_UPLOAD_COMPLETING: { kind: 'conflict', only: 'completion', about: 'another request is completing the upload' },
  KEY_IN_USE: { kind: 'conflict', only: 'cli', about: 'published images are signed by the key; retire it, or remove it with `--force`' },

  // too-large
  ACI_TOO_LARGE: { kind: 'too-large', about: 'the .aci is over `limits.maxCompressedBytes`' },
  UNCOMPRESSED_TOO_LARGE: { kind: 'too-large', about: 'the unpacked image is over `limits.maxUncompressedBytes`' },
  ARCHIVE_TOO_MANY_ENTRIES: { kind: 'too-large', about: 'the archive has more than `limits.maxEntries` entries' },
  ARCHIVE_TOO_MANY_LINKS: { kind: 'too-large', about: "the archive's symlinks hold more names and targets than the server resolves" },
  MANIFEST_TOO_LARGE: { kind: 'too-large', about: 'the manifest is over `limits.maxManifestBytes`' },
  PART_TOO_LARGE: { kind: 'too-large', about: 'the `asc` part of a push is over 64 KiB' },
  SIGNATURE_TOO_LARGE: { kind: 'too-large', about: 'the signature is over 64 KiB' },
  KEY_TOO_LARGE: { kind: 'too-large', only: 'cli', about: 'the key file is over 1 MiB' },

  // invalid
  ARCHIVE_FORMAT_UNKNOWN: { kind: 'invalid', about: 'the upload is empty, or neither gzip, bzip2, xz nor a tar archive' },
  ARCHIVE_CORRUPT: { kind: 'invalid', about: 'the compressed or tar data is corrupt' },
  ARCHIVE_TRUNCATED: { kind: 'invalid', about: 'the compressed or tar data ends too early' },
  ARCHIVE_MANIFEST_MISSING: { kind: 'invalid', about: 'the archive has no top-level `manifest` file' },
  ARCHIVE_ROOTFS_MISSING: { kind: 'invalid', about: 'the archive has no `rootfs` directory' },
  ARCHIVE_UNEXPECTED_ENTRY: { kind: 'invalid', about: 'an entry besides `manifest` and `rootfs/...`, or one of those of the wrong type' },
  ARCHIVE_DUPLICATE_ENTRY: { kind: 'invalid', about: 'a path appears more than once' },
  ARCHIVE_ENTRY_TYPE_UNSUPPORTED: { kind: 'invalid', about: 'an entry of a tar type the server does not accept, such as a sparse file' },
  ARCHIVE_NAME_NOT_UTF8: { kind: 'invalid', about: 'an entry name is not valid UTF-8' },
  ARCHIVE_PATH_ABSOLUTE: { kind: 'invalid', about: 'an entry has an absolute path' },
  ARCHIVE_PATH_TRAVERSAL: { kind: 'invalid', about: 'an entry path contains `..`' },
  ARCHIVE_PATH_TOO_LONG: { kind: 'invalid', about: 'an entry path or link target is over `limits.maxPathBytes`' },
  ARCHIVE_LINK_ESCAPES: { kind: 'invalid', about: 'a link leads out of `rootfs`, or a hard link names no earlier file' },
  ARCHIVE_LINK_LOOP: { kind: 'invalid', about: 'the symlinks loop, or chain more than 255 links' },
  MANIFEST_INVALID: { kind: 'invalid', about: 'the manifest is not valid JSON or not a valid appc image manifest' },
  MANIFEST_LABEL_MISSING: { kind: 'invalid', about: 'the manifest lacks a `version`, `os` or `arch` label' },
  MANIFEST_OS_ARCH_INVALID: { kind: 'invalid', about: 'the os/arch pair is not one appc knows' },
  NAME_TOO_LONG: { kind: 'invalid', about: 'the name is over 512 bytes, or a part of it over 255' },
  LABEL_TOO_LONG: { kind: 'invalid', about: 'a `version`, `os` or `arch` label is over 128 bytes' },
  VERSION_INVALID: { kind: 'invalid', about: 'the version label has characters a version cannot have' },
  VERSION_RESERVED: { kind: 'invalid', about: '`latest` is not a version to push or delete' },
  NAME_OUTSIDE_DOMAIN: { kind: 'invalid', about: "the name is not under the server's image domain" },
  NAME_RESERVED: { kind: 'invalid', about: 'the name ends in a segment reserved for key files' },
  SIGNATURE_UNREADABLE: { kind: 'invalid', about: 'the signature is not readable OpenPGP data' },
  SIGNATURE_NOT_DETACHED: { kind: 'invalid', about: 'the signature part holds something else, such as a signed message or a key' },
  SIGNATURE_MULTIPLE: { kind: 'invalid', about: 'the signature file holds more than one signature; rkt reads only the first' },
  SIGNATURE_UNSUPPORTED: { kind: 'invalid', about: 'a signature rkt cannot verify: not version 4, not binary, EdDSA or a weak hash' },
  SIGNATURE_NO_ISSUER: { kind: 'invalid', about: 'the signature names no issuer key id' },
  SIGNATURE_MISMATCH: { kind: 'invalid', about: 'the signature does not match the image bytes' },
  SIGNATURE_UNTRUSTED_KEY: { kind: 'invalid', about: 'signed by a key the server does not trust, or not by a signing key' },
  SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME: { kind: 'invalid', about: 'signed by a trusted key, but not one trusted for this name' },
  SIGNATURE_KEY_REVOKED: { kind: 'invalid', about: 'signed by a revoked key' },
  SIGNATURE_KEY_EXPIRED: { kind: 'invalid', about: 'signed by an expired key' },
  SIGNATURE_KEY_RETIRED: { kind: 'invalid', about: 'signed by a retired key, which verifies old images but signs no new ones' },
  SIGNING_KEY_MISSING: {
    kind: 'invalid',
    about: 'an unsigned push with the `sign` scope, but no active server signing key covers the name (`acihost key generate --prefix`)',
  },
  ACPUSH_NAME_INVALID: { kind: 'invalid', about: 'the acpush start URL names no valid image name' },
  ACPUSH_LABELS_INVALID: { kind: 'invalid', about: 'the acpush start URL has a version or os/arch no image can have' },
  ACPUSH_NAME_MISMATCH: { kind: 'invalid', only: 'completion', about: "the image's manifest names another image than the push URL" },
  ACPUSH_VERSION_MISMATCH: { kind: 'invalid', only: 'completion', about: "the image's version is not the push URL's" },
  ACPUSH_PLATFORM_MISMATCH: { kind: 'invalid', only: 'completion', about: "the image's os/arch are not the push URL's" },
  ACPUSH_MANIFEST_MISMATCH: { kind: 'invalid', only: 'completion', about: 'the manifest part is not the manifest inside the image' },
  ACPUSH_MANIFEST_MISSING: { kind: 'invalid', only: 'completion', about: 'the upload has no manifest part' },
  ACPUSH_ACI_MISSING: { kind: 'invalid', only: 'completion', about: 'the upload has no image part' },
  ACPUSH_CLIENT_FAILED: { kind: 'invalid', only: 'completion', about: 'the client reported a failure; the upload was discarded' },
  ACPUSH_REPORT_INVALID: {
    kind: 'invalid',
    only: 'completion',
    about: 'the completion body is not `{"success":...}` JSON of at most 64 KiB',
  },
  LIMIT_INVALID: { kind: 'invalid', about: '`limit` is not a whole number from 1 to 1000' },
  CURSOR_INVALID: { kind: 'invalid', about: '`cursor` is not one the server made' },
  PREFIX_INVALID: { kind: 'invalid', about: '`prefix` is not an image name prefix' },
  QUERY_INVALID: { kind: 'invalid', about: 'the query is not valid, such as a parameter given twice' },
  KEY_UNREADABLE: { kind: 'invalid', only: 'cli', about: 'the key is not readable OpenPGP public key data' },
  KEY_PRIVATE: { kind: 'invalid', only: 'cli', about: 'a private key where the public key belongs' },
  KEY_NO_SIGNING_KEY: { kind: 'invalid', only: 'cli', about: 'the key has no key or subkey that can sign' },
  KEY_VERSION_UNSUPPORTED: { kind: 'invalid', only: 'cli', about: 'the key is not a version 4 OpenPGP key' },
  KEY_ALGORITHM_UNSUPPORTED: {
    kind: 'invalid',
    only: 'cli',
    about: 'the key or a subkey uses an algorithm rkt cannot load, such as EdDSA',
  },
  KEY_TOO_WEAK: { kind: 'invalid', only: 'cli', about: 'an RSA or DSA key of under 2048 bits' },
  KEY_REVOKED: { kind: 'invalid', only: 'cli', about: 'the key has been revoked' },
  KEY_EXPIRED: { kind: 'invalid', only: 'cli', about: 'the key has expired' },
  KEY_FINGERPRINT_INVALID: { kind: 'invalid', only: 'cli', about: 'a fingerprint is not 40 hexadecimal digits' },
  KEY_PREFIX_INVALID: { kind: 'invalid', only: 'cli', about: 'the prefix of a key is not an image name prefix' },
  KEY_PREFIX_OUTSIDE_DOMAIN: { kind: 'invalid', only: 'cli', about: "the prefix of a key is outside the server's image domain" },
  TOKEN_PREFIX_INVALID: { kind: 'invalid', about: 'the prefix of a token is not an image name prefix' },
  TOKEN_PREFIX_OUTSIDE_DOMAIN: { kind: 'invalid', about: "the prefix of a token is outside the server's image domain" },
  TOKEN_REQUEST_INVALID: { kind: 'invalid', about: 'the body of `POST /-/api/tokens` is not a JSON object of the documented fields' },
  TOKEN_SCOPE_INVALID: { kind: 'invalid', about: 'a scope other than push, pull, delete, overwrite, metrics, admin, convert and sign' },
  TOKEN_EXPIRY_INVALID: { kind: 'invalid', about: '`expires` is not a duration such as 90d, nor null or never' },
  TOKEN_NAME_INVALID: { kind: 'invalid', about: "a token's label is over 128 characters or holds control characters" },
  QUOTA_PREFIX_INVALID: { kind: 'invalid', only: 'cli', about: 'the prefix of a quota is not an image name prefix' },
  QUOTA_PREFIX_OUTSIDE_DOMAIN: { kind: 'invalid', only: 'cli', about: "the prefix of a quota is outside the server's image domain" },
  IMPORT_NO_KEYS_FILE: { kind: 'invalid', only: 'cli', about: '`--trust-keys` was given, but the directory has no `pubkeys.gpg`' },
  RETENTION_PREFIX_INVALID: { kind: 'invalid', only: 'cli', about: 'the prefix of a retention policy is not an image name prefix' },
  RETENTION_PREFIX_OUTSIDE_DOMAIN: {
    kind: 'invalid',
    only: 'cli',
    about: "the prefix of a retention policy is outside the server's image domain",
  },
  RETENTION_PATTERN_INVALID: { kind: 'invalid', only: 'cli', about: '`--protect` is not a valid regular expression' },

  // too-many
  UPLOADS_CONCURRENCY_LIMIT: { kind: 'too-many', about: 'the token is already sending `limits.maxConcurrentUploadsPerToken` uploads' },
  CONVERSIONS_BUSY: { kind: 'too-many', about: 'the server is already running `mirrors.maxConversions` conversions; retry when one has ended' },
  UPLOAD_SESSIONS_LIMIT: { kind: 'too-many', about: 'the token already holds `limits.maxUploadSessionsPerToken` open acpush uploads' },

  // unavailable
  STORAGE_UNAVAILABLE: { kind: 'unavailable', about: 'the store does not answer; discovery keeps answering from memory' },
  STORAGE_INTEGRITY: { kind: 'unavailable', about: 'the store kept other bytes than were sent; nothing was stored' },
  STORAGE_INCONSISTENT: { kind: 'unavailable', about: 'the store says a version exists but cannot show it; push again shortly' },
  DECOMPRESSOR_UNAVAILABLE: { kind: 'unavailable', about: 'the server cannot run the decompressor this image needs' },
  SIGNING_KEY_LOCKED: {
    kind: 'unavailable',
    about: 'the server cannot open its signing key: started without `ACIHOST_SIGNING_SECRET`, or with another secret',
  },

  // insufficient-storage
  STORAGE_FULL: { kind: 'insufficient-storage', about: 'the storage volume is full; nothing was stored' },

  // webhooks (src/registry/webhooks/)
  WEBHOOK_NOT_FOUND: { kind: 'not-found', about: 'no webhook subscription with that id' },
  WEBHOOK_IN_CONFIG: { kind: 'conflict', about: 'the subscription is in the configuration file; remove it there' },
  WEBHOOK_URL_INVALID: {
    kind: 'invalid',
    about: 'the webhook URL is not https (or http where allowed), or holds credentials or a fragment',
  },
  WEBHOOK_TARGET_PRIVATE: {
    kind: 'invalid',
    about: 'the webhook URL names this machine or a private address, and private targets are not allowed',
  },
  WEBHOOK_PREFIX_INVALID: { kind: 'invalid', about: 'the prefix of a subscription is not an image name prefix' },
  WEBHOOK_PREFIX_OUTSIDE_DOMAIN: { kind: 'invalid', about: "the prefix of a subscription is outside the server's image domain" },
  WEBHOOK_SECRET_INVALID: { kind: 'invalid', about: 'a webhook secret is not 16-256 printable ASCII characters without spaces or quotes' },
  WEBHOOK_REQUEST_INVALID: { kind: 'invalid', about: 'the subscription asked for is not a JSON object of the documented fields' },
  WEBHOOK_PRIVATE_TARGET_API: { kind: 'forbidden', about: 'private targets are allowed from the command line and the configuration only' },

  // Docker/OCI images converted to ACIs (src/convert/)
  CONVERT_PLATFORM_UNNAMEABLE: { kind: 'invalid', about: "the image's os, architecture or variant has no appc os/arch name" },
  CONVERT_PLATFORM_MISSING: { kind: 'not-found', about: 'the image index has no image for the os/arch asked for' },
  CONVERT_CONFIG_UNCONVERTIBLE: {
    kind: 'invalid',
    about: 'the image config holds a value an appc manifest cannot express (a port, volume or environment name)',
  },
  CONVERT_LAYER_MEDIA_TYPE: { kind: 'invalid', about: 'a layer is not a tar, tar+gzip or tar+zstd layer' },
  CONVERT_LAYER_INVALID: { kind: 'invalid', about: 'a layer is corrupt, or holds an entry no image can hold (named in the message)' },
  // upstream registries (src/upstream/)
  UPSTREAM_REFERENCE_INVALID: {
    kind: 'invalid',
    about: 'the upstream image is not `docker://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]` with a registry host',
  },
  UPSTREAM_NOT_FOUND: { kind: 'not-found', about: 'the upstream registry has no such repository, tag or digest' },
  UPSTREAM_UNREACHABLE: { kind: 'bad-gateway', about: 'the upstream registry could not be reached: no such host, refused or reset' },
  UPSTREAM_TLS_FAILED: {
    kind: 'bad-gateway',
    about: "the upstream registry's certificate is not trusted or does not name it, or it speaks plain HTTP",
  },
  UPSTREAM_AUTH_FAILED: {
    kind: 'bad-gateway',
    about: 'the upstream registry refused the credentials configured for it, or asked for some',
  },
  UPSTREAM_BAD_RESPONSE: { kind: 'bad-gateway', about: 'the upstream registry answered with an error or with something no registry sends' },
  UPSTREAM_DIGEST_MISMATCH: {
    kind: 'bad-gateway',
    about: 'a manifest or blob from the upstream registry does not match its digest or size',
  },
  UPSTREAM_MANIFEST_TOO_LARGE: { kind: 'bad-gateway', about: 'an upstream manifest or index is over the size acihost reads' },
  UPSTREAM_TIMEOUT: { kind: 'gateway-timeout', about: 'the upstream registry did not connect, or sent nothing for too long' },
  UPSTREAM_MANIFEST_UNSUPPORTED: {
    kind: 'invalid',
    about: 'the upstream image is in a format acihost does not convert, such as Docker schema 1',
  },
  UPSTREAM_MANIFEST_INVALID: { kind: 'invalid', about: 'an upstream manifest, index or image config is not valid JSON of its schema' },
  UPSTREAM_LAYER_UNSUPPORTED: {
    kind: 'invalid',
    about: 'an upstream layer of a media type acihost does not unpack, such as a foreign (non-distributable) layer',
  },

  // Answered by the HTTP layer itself.
  HTTP_MALFORMED: { docStatus: 400, about: 'not valid HTTP/1.1 (method, request line, a header or the body framing)' },
  JSON_BODY_INVALID: { docStatus: 400, about: 'the body is not valid JSON, but its Content-Type says JSON' },
  JSON_BODY_EMPTY: { docStatus: 400, about: 'the body is empty, but its Content-Type says JSON' },
  UPSTREAM_NOT_ALLOWED: { kind: 'forbidden', about: 'the upstream repository is not in the allow-list (`mirrors.upstreams`)' },
  CONVERSION_NOT_FOUND: { kind: 'not-found', about: 'no conversion with that id under the token\'s prefixes' },
  CONVERSION_REQUEST_INVALID: { kind: 'invalid', about: 'the conversion request is not `{"source", "as"}` with strings' },
  CONVERSION_TAG_INVALID: { kind: 'invalid', about: 'the upstream tag cannot be an ACI version; convert by digest instead' },
  CONVERSION_NAME_MISSING: { kind: 'invalid', only: 'cli', about: 'the source is not in the allow-list and no `--as` names the versions' },
  UPSTREAM_CONFIG_TOO_LARGE: { kind: 'bad-gateway', about: 'the upstream image config is larger than `limits.maxManifestBytes`' },
  UPSTREAM_PASSWORD_MISSING: { kind: 'bad-gateway', about: "the upstream's `passwordEnv` variable is not set in the server's environment" },
  UPSTREAM_FILE_UNREADABLE: { kind: 'bad-gateway', about: "the upstream's `caFile` or `passwordFile` cannot be read" },
  CONVERSION_WAIT_TIMEOUT: { kind: 'gateway-timeout', about: 'a conversion under way took longer than `mirrors.waitSeconds`; try again later' },

  CONTENT_LENGTH_MISMATCH: { docStatus: 400, about: 'the body is not as long as its Content-Length says' },
  NOT_FOUND: { docStatus: 404, about: 'nothing answers that method and path, or the path is not valid percent-encoded UTF-8' },
  REQUEST_TIMEOUT: {
    docStatus: 408,
    about: 'the request did not arrive within `server.headersTimeoutSeconds` (headers) or `server.requestTimeoutSeconds`',
  },
  BODY_TOO_LARGE: { docStatus: 413, about: 'the body is larger than the route reads' },
  URI_TOO_LONG: { docStatus: 414, about: 'a segment of the URL is longer than any the server issues' },
  MEDIA_TYPE_UNSUPPORTED: { docStatus: 415, about: 'the Content-Type is not a media type the server reads' },
  RANGE_NOT_SATISFIABLE: { docStatus: 416, about: 'no requested byte range starts inside the file (with `Content-Range: bytes */LENGTH`)' },
  AUTH_RATE_LIMITED: {
    docStatus: 429,
    about: 'too many failed authentications from this address; wait for `Retry-After` ([Operations](operations.md#failed-authentication))',
  },
  HEADERS_TOO_LARGE: { docStatus: 431, about: "the request line and headers are over Node's 16 KiB" },
  INTERNAL: { docStatus: 500, about: 'a fault in acihost; the message names the request id to find in the server log' },

  STORAGE_KEY_REFUSED: { internal: true, about: 'a storage key that no layout function makes' },
  PUSH_NOT_STAGED: { internal: true, about: 'a push was published before its image was staged' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

type Catalogue = typeof ERROR_CODES;

/** The codes an AcihostError of kind K is made with. */
export type CodeOf<K extends ErrorKind> = { [C in ErrorCode]: Catalogue[C] extends { kind: K } ? C : never }[ErrorCode];

/** The codes of InternalError. */
export type InternalCode = { [C in ErrorCode]: Catalogue[C] extends { internal: true } ? C : never }[ErrorCode];
