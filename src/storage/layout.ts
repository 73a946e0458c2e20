/**
 * The one owner of storage keys. Everything acihost stores lives here:
 *
 *   images/<name>/_v/<os>-<arch>/<version>.json   version record: the commit point of a publish
 *                                                 (image ID, digest, size, signer, signature, blob key)
 *   images/<name>/_t/<os>-<arch>/<version>/<blob id>.json  tombstone of one deleted version record (named for
 *                                                 its blob), written create-only: the commit point of a delete, so one
 *                                                 delete wins per record; re-pushing a version with any tombstone needs
 *                                                 the overwrite scope (published bytes never change silently)
 *   images/<name>/_d/<os>-<arch>/<version>.json   the one tombstone per version that older servers wrote; still honoured
 *   blobs/<upload id>.aci                         image bytes, reachable only through a record
 *   keys/<fingerprint>.json                       a trusted public key and its prefixes
 *   signing-keys/<fingerprint>.json               a server signing key (`acihost key generate`): its prefix and its secret
 *                                                 key encrypted with the operator's secret (its public key is in keys/)
 *   tokens/<token id>.json                        a token's hash, prefixes, scopes, expiry and who made it
 *   token-use/<token id>.json                     when the token was last used, overwritten at most once a minute
 *                                                 per process (apart from its record, so the record is never rewritten)
 *   token-expiring/<token id>                     create-only marker: the token's coming expiry has been audited
 *   audit/<YYYY-MM-DD>/<time>-<random>.json       one audit event per object (one JSON line): an object
 *                                                 store has no append, so each event is its own create-only put
 *   uploads/<session>/session.json                an acpush upload: its token id and the pushed name/version/os/arch
 *   uploads/<session>/manifest.json               its parts, each written once as it arrives (any order, any
 *   uploads/<session>/signature.asc                 process): manifest, signature, the staged image and
 *   uploads/<session>/image-<staging id>.aci        image.json, its inspection record
 *   uploads/<session>/image.json
 *   uploads/<session>/failure.json                a refused part's error, reported at completion
 *   uploads/<session>/completing                  create-only marker: one completion at a time
 *                                                 (the sweep removes a session idle past acpush.uploadExpirySeconds)
 *   journal/<ms since epoch, 13 digits>-<random>.json  one published or deleted version, so replicas sharing
 *                                                 the storage update their index within a poll (kept an hour)
 *   retention/policies/<prefix>/_policy.json      the retention policy of one name prefix (`_` never occurs in a prefix)
 *   retention/runs/<ms since epoch, 13 digits>.json  create-only, named for the start of a scheduled retention
 *                                                 interval: the one replica doing that interval's run
 *   index/catalog.json                            a snapshot of the index with the journal time it is current to, so a
 *                                                 restart with many names reads one object and the journal since
 *   quotas/<prefix>.json                          a quota: the most bytes and versions the names at or below <prefix> may hold
 *   quota-claims/<claim id>-<stage>.json          create-only: a push's claim on the quotas covering its name, while it is
 *                                                 admitted (stage admission) and while it commits (stage commit); the id
 *                                                 (<ms since epoch, 13 digits>-<random>) orders claims; each holds its expiry
 *   acme/account.json                             the ACME account key (and its directory), shared by replicas
 *   acme/certificate.json                         the ACME certificate chain and its key, in one object so they
 *                                                 always match; every replica serves it and swaps it when it changes
 *   acme/lock                                     create-only, with an expiry inside: the one replica ordering now
 *   acme/renew                                    written by `acihost cert renew`: order a new certificate now
 *   health/probe                                  never written: the readiness check stats it to prove the store answers
 *   webhooks/subscriptions/<id>.json              a webhook subscription made with the CLI or API, its secret included
 *   webhooks/cursor.json                          how far replicas have read the audit log for webhooks (re-read from there at start)
 *   webhooks/since/<sub>.json                     create-only: when a server first ran with a subscription of its configuration
 *   webhooks/open/<sub>/<event id>.json           create-only: a delivery not finished yet, holding its event (removed when finished)
 *   webhooks/deliveries/<sub>/<event id>/event.json  create-only: the body delivered; that it exists means the event was taken up
 *   webhooks/deliveries/<sub>/<event id>/<n>-claim.json   create-only: the replica making attempt n, and until when
 *   webhooks/deliveries/<sub>/<event id>/<n>-result.json  create-only: how attempt n went, and when the next one is due
 *   mirror/tags/<name>/_<os>-<arch>/<tag>.json    a pull-through tag: the upstream digest it was converted from, its
 *                                                 version and when upstream was last asked (src/registry/mirror/)
 *   mirror/converting/<name>/_<os>-<arch>/<tag>   create-only, with an expiry inside: the one replica converting that tag now
 *   mirror/failed/<name>/_<os>-<arch>/<tag>.json  why the last conversion of that tag failed, for the requests that waited on it
 *                                                 (the sweep removes these, and leases left by dead replicas, after an hour)
 *   conversions/<id>.json                         a conversion asked for over the API or CLI: its source, progress and result
 *   signing-keys/<fingerprint>.json               a server signing key, its private part encrypted with the operator's secret
 *   tmp/...                                       staging; the sweep removes what is old here
 *
 * `_` cannot occur in an AC identifier, so `_v` never collides with a name segment;
 * an os has no `-`, so `<os>-<arch>` splits at the first dash even for `aarch64_be`.
 * No key holds an absolute URL: URLs are rendered per request from the public origin.
 */
export interface VersionCoordinates {
  name: string;
  version: string;
  os: string;
  arch: string;
}

/** The fixed objects of an upload session (the staged image has its own key, uploadImage). */
export type UploadFile = 'session.json' | 'manifest.json' | 'signature.asc' | 'image.json' | 'failure.json' | 'completing';

/** A quota claim is made when a push is admitted, and made again with the image's exact size when it commits. */
export type QuotaClaimStage = 'admission' | 'commit';

const IMAGES = 'images/';
const VERSIONS = '/_v/';
const TOMBSTONES = '/_d/';
const RECORD_TOMBSTONES = '/_t/';

export const layout = {
  images: IMAGES,
  blobs: 'blobs/',
  keys: 'keys/',
  tokens: 'tokens/',
  tmp: 'tmp/',
  healthProbe: 'health/probe',
  audit: 'audit/',
  uploads: 'uploads/',
  acmeAccount: 'acme/account.json',
  acmeCertificate: 'acme/certificate.json',
  acmeLock: 'acme/lock',
  acmeRenew: 'acme/renew',
  journal: 'journal/',
  indexSnapshot: 'index/catalog.json',
  quotas: 'quotas/',
  quotaClaims: 'quota-claims/',
  quota: (prefix: string): string => `quotas/${prefix}.json`,
  quotaClaim: (id: string, stage: QuotaClaimStage): string => `quota-claims/${id}-${stage}.json`,
  /** The id and stage of a key under quota-claims/, or null. */
  parseQuotaClaim(key: string): { id: string; stage: QuotaClaimStage } | null {
    const m = /^quota-claims\/(\d{13}-[0-9a-f]{16})-(admission|commit)\.json$/.exec(key);
    return m ? { id: m[1]!, stage: m[2] as QuotaClaimStage } : null;
  },
  retentionPolicies: 'retention/policies/',
  retentionPolicy: (prefix: string): string => `retention/policies/${prefix}/_policy.json`,
  retentionRuns: 'retention/runs/',
  retentionRun: (ms: number): string => `retention/runs/${String(ms).padStart(13, '0')}.json`,
  journalEntry: (ms: number, random: string): string => `journal/${String(ms).padStart(13, '0')}-${random}.json`,
  /** The time of a journal entry, from its key. */
  journalTime: (key: string): number => Number(key.slice('journal/'.length, 'journal/'.length + 13)),

  versionRecord: (c: VersionCoordinates): string => `${IMAGES}${c.name}${VERSIONS}${c.os}-${c.arch}/${c.version}.json`,
  /** The tombstone an older server wrote for a deleted version (one per coordinates); still honoured. */
  tombstone: (c: VersionCoordinates): string => `${IMAGES}${c.name}${TOMBSTONES}${c.os}-${c.arch}/${c.version}.json`,
  /** Every tombstone of records deleted under these coordinates starts with this. */
  recordTombstones: (c: VersionCoordinates): string => `${IMAGES}${c.name}${RECORD_TOMBSTONES}${c.os}-${c.arch}/${c.version}/`,
  /** The tombstone of the one record whose blob is `blobKey`: a re-pushed version has a new blob, so a new tombstone. */
  recordTombstone: (c: VersionCoordinates, blobKey: string): string =>
    `${IMAGES}${c.name}${RECORD_TOMBSTONES}${c.os}-${c.arch}/${c.version}/${blobKey.slice(blobKey.lastIndexOf('/') + 1).replace(/\.aci$/, '')}.json`,
  /** `stamp` sorts by time (e.g. 20261123T181700123Z); `random` keeps two events of one millisecond apart. */
  auditEvent: (day: string, stamp: string, random: string): string => `audit/${day}/${stamp}-${random}.json`,
  auditDay: (day: string): string => `audit/${day}/`,
  webhookSubscriptions: 'webhooks/subscriptions/',
  webhookSubscription: (id: string): string => `webhooks/subscriptions/${id}.json`,
  webhookCursor: 'webhooks/cursor.json',
  webhookSince: (sub: string): string => `webhooks/since/${sub}.json`,
  webhooksOpen: 'webhooks/open/',
  webhookOpen: (sub: string, eventId: string): string => `webhooks/open/${sub}/${eventId}.json`,
  webhookAllDeliveries: 'webhooks/deliveries/',
  /** Every object of one subscription's deliveries starts with this. */
  webhookDeliveries: (sub: string): string => `webhooks/deliveries/${sub}/`,
  /** Every object of one delivery starts with this. */
  webhookDelivery: (sub: string, eventId: string): string => `webhooks/deliveries/${sub}/${eventId}/`,
  mirrorConvertings: 'mirror/converting/',
  mirrorFailures: 'mirror/failed/',
  mirrorTag: (c: VersionCoordinates): string => `mirror/tags/${c.name}/_${c.os}-${c.arch}/${c.version}.json`,
  mirrorConverting: (c: VersionCoordinates): string => `mirror/converting/${c.name}/_${c.os}-${c.arch}/${c.version}`,
  mirrorFailed: (c: VersionCoordinates): string => `mirror/failed/${c.name}/_${c.os}-${c.arch}/${c.version}.json`,
  conversions: 'conversions/',
  conversion: (id: string): string => `conversions/${id}.json`,
  blob: (uploadId: string): string => `blobs/${uploadId}.aci`,
  stagedUpload: (uploadId: string): string => `tmp/uploads/${uploadId}.aci`,
  key: (fingerprint: string): string => `keys/${fingerprint}.json`,
  signingKeys: 'signing-keys/',
  signingKey: (fingerprint: string): string => `signing-keys/${fingerprint}.json`,
  token: (id: string): string => `tokens/${id}.json`,
  tokenUses: 'token-use/',
  tokenUse: (id: string): string => `token-use/${id}.json`,
  tokenExpiringNotice: (id: string): string => `token-expiring/${id}`,
  /** Every object of one upload session starts with this; deleting them all removes the session. */
  uploadDir: (sessionId: string): string => `uploads/${sessionId}/`,
  uploadFile: (sessionId: string, file: UploadFile): string => `uploads/${sessionId}/${file}`,
  uploadImage: (sessionId: string, stagingId: string): string => `uploads/${sessionId}/image-${stagingId}.aci`,
  /** The session id of a key under uploads/, or null. */
  parseUploadKey(key: string): string | null {
    const m = /^uploads\/([^/]+)\//.exec(key);
    return m ? m[1]! : null;
  },

  /** The inverse of versionRecord, or null for keys that are not version records. */
  parseVersionRecord(key: string): VersionCoordinates | null {
    if (!key.startsWith(IMAGES) || !key.endsWith('.json')) return null;
    const at = key.lastIndexOf(VERSIONS);
    if (at < 0) return null;
    const name = key.slice(IMAGES.length, at);
    const rest = key.slice(at + VERSIONS.length, -'.json'.length).split('/');
    if (rest.length !== 2) return null;
    const [osArch, version] = rest as [string, string];
    const dash = osArch.indexOf('-');
    if (dash <= 0 || !version) return null;
    return { name, version, os: osArch.slice(0, dash), arch: osArch.slice(dash + 1) };
  },
};
