/**
 * A replay of appc/acpush 0.0.1 on the wire, after docs/acpush-wire.md §1:
 * anonymous discovery, a start POST with `Content-Length: 0`, the manifest PUT
 * re-serialised from the ACI with Content-Length, the signature and the image PUT
 * chunked in 32 KiB chunks with no length and no Content-Type, and the completion
 * POST; headers in Go's order and case, no `Connection` header, Basic or Bearer
 * auth on every request after discovery. It also acts on the answers as acpush
 * does (a part answered 400 counts as success; any other non-200 stops the upload
 * and sends a failure report), and reports what acpush would print.
 *
 *   const r = await acpush({ origin, ca, aci, asc, name: 'localhost/team/app', version: '1.0.0', auth });
 *   r.exitCode  // 0, or 1 with r.stderr 'err: ...'
 */
import { Agent, request } from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

export type AcpushAuth = { basic: { user: string; password: string } } | { bearer: string } | undefined;
export type AcpushPart = 'manifest' | 'signature' | 'aci';
export const ACPUSH_ORDER: readonly AcpushPart[] = ['manifest', 'signature', 'aci'];

export interface WireResponse {
  status: number;
  body: Buffer;
  json: any;
}

/** Go's net/http reads files in 32 KiB buffers; each read became one chunk (`8000`). */
const CHUNK = 32 * 1024;

export function authorization(auth: AcpushAuth): string | undefined {
  if (!auth) return undefined;
  if ('bearer' in auth) return `Bearer ${auth.bearer}`;
  return `Basic ${Buffer.from(`${auth.basic.user}:${auth.basic.password}`).toString('base64')}`;
}

/**
 * One request as Go's client writes it: Host, User-Agent, Content-Length or
 * Transfer-Encoding, Authorization, Accept-Encoding, nothing else.
 */
export function wireRequest(
  url: string,
  o: { method: string; ca: string | Buffer; auth?: AcpushAuth; body?: Buffer; chunked?: boolean; agent?: Agent },
): Promise<WireResponse> {
  const target = new URL(url);
  const headers: OutgoingHttpHeaders = { Host: target.host, 'User-Agent': 'Go-http-client/1.1' };
  if (o.chunked) headers['Transfer-Encoding'] = 'chunked';
  else if (o.body) headers['Content-Length'] = o.body.length;
  const auth = authorization(o.auth);
  if (auth) headers.Authorization = auth;
  headers['Accept-Encoding'] = 'gzip';
  return new Promise((resolve, reject) => {
    const req = request(target, { method: o.method, headers, ca: o.ca, agent: o.agent ?? false, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: any;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
    });
    req.removeHeader('Connection'); // Go sends none; HTTP/1.1 keeps the connection by default
    req.setTimeout(30_000, () => req.destroy(new Error(`${o.method} ${url} timed out`)));
    req.on('error', reject);
    if (o.chunked && o.body) for (let at = 0; at < o.body.length; at += CHUNK) req.write(o.body.subarray(at, at + CHUNK));
    else if (o.body) req.write(o.body);
    req.end();
  });
}

/** The `manifest` entry of a gzip (or plain tar) ACI, as acpush reads it before re-serialising. */
export async function manifestOf(aci: Buffer): Promise<Buffer> {
  const tar = aci[0] === 0x1f && aci[1] === 0x8b ? gunzipSync(aci) : aci;
  const ex = extract();
  let found: Buffer | undefined;
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.name === 'manifest') found = Buffer.concat(chunks);
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  if (!found) throw new Error('the ACI has no manifest');
  return found;
}

type Json = any;

// Field order of appc's Go structs (schema/image.go, schema/types/*.go): encoding/json
// writes fields in declaration order, drops unknown keys and omitempty fields.
const pick = (o: Json, keys: [string, ((v: Json) => Json)?, 'omitempty'?][]): Json => {
  const out: Json = {};
  for (const [key, map, omit] of keys) {
    const v = o?.[key];
    const empty = v === undefined || v === null || v === '' || v === false || v === 0 || (Array.isArray(v) && v.length === 0);
    if (omit && empty) continue;
    out[key] = v === undefined ? null : map && v !== null ? map(v) : v;
  }
  return out;
};
const list = (f: (v: Json) => Json) => (a: Json[]) => a.map(f);
const nameValue = (v: Json) => pick(v, [['name'], ['value']]);
const app = (a: Json) =>
  pick(a, [
    ['exec'],
    ['eventHandlers', list((e) => pick(e, [['name'], ['exec']])), 'omitempty'],
    ['user'],
    ['group'],
    ['supplementaryGIDs', undefined, 'omitempty'],
    ['workingDirectory', undefined, 'omitempty'],
    ['environment', list(nameValue), 'omitempty'],
    ['mountPoints', list((m) => pick(m, [['name'], ['path'], ['readOnly', undefined, 'omitempty']])), 'omitempty'],
    ['ports', list((p) => pick(p, [['name'], ['protocol'], ['port'], ['count'], ['socketActivated']])), 'omitempty'],
    ['isolators', list((i) => pick(i, [['name'], ['value']])), 'omitempty'],
  ]);

/**
 * The manifest as acpush PUTs it (acpush-wire.md 1c): decoded into appc's Go
 * types and encoded again, compact, with `<`, `>`, `&` escaped as Go does.
 */
export function reserializeManifest(original: Buffer): Buffer {
  const m = JSON.parse(original.toString('utf8')) as Json;
  const go = pick(m, [
    ['acKind'],
    ['acVersion'],
    ['name'],
    ['labels', list(nameValue), 'omitempty'],
    ['app', app, 'omitempty'],
    ['annotations', list(nameValue), 'omitempty'],
    [
      'dependencies',
      list((d) =>
        pick(d, [
          ['imageName'],
          ['imageID', undefined, 'omitempty'],
          ['labels', list(nameValue), 'omitempty'],
          ['size', undefined, 'omitempty'],
        ]),
      ),
      'omitempty',
    ],
    ['pathWhitelist', undefined, 'omitempty'],
  ]);
  const text = JSON.stringify(go).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(text);
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** The meta tags of a discovery page, attribute values unescaped. */
export function metaTags(html: string): { name: string; prefix: string; template: string }[] {
  return [...html.matchAll(/<meta name="(ac-[^"]*)" content="([^"]*)">/g)].map((m) => {
    const content = m[2]!.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]!);
    const space = content.indexOf(' ');
    return { name: m[1]!, prefix: content.slice(0, space), template: content.slice(space + 1) };
  });
}

/**
 * acpush's discovery: anonymous GETs from the name's own path upwards, stopping at
 * the first page with any appc tag; its ac-push-discovery tag whose prefix starts
 * the name gives the template. `origin` stands for https://HOST (acpush knows no port).
 */
export async function discoverPushTemplate(origin: string, ca: string | Buffer, name: string): Promise<string | null> {
  const segments = name.split('/').slice(1);
  for (let n = segments.length; n >= 0; n--) {
    const res = await wireRequest(`${origin}/${segments.slice(0, n).join('/')}?ac-discovery=1`, { method: 'GET', ca });
    if (res.status !== 200) continue;
    const tags = metaTags(res.body.toString('utf8'));
    if (tags.length === 0) continue;
    return tags.find((t) => t.name === 'ac-push-discovery' && name.startsWith(t.prefix))?.template ?? null;
  }
  return null;
}

export const renderTemplate = (template: string, v: { name: string; version: string; os: string; arch: string }) =>
  template
    .replaceAll('{name}', v.name)
    .replaceAll('{version}', v.version)
    .replaceAll('{os}', v.os)
    .replaceAll('{arch}', v.arch)
    .replaceAll('{ext}', 'aci');

export interface AcpushOptions {
  origin: string;
  ca: string | Buffer;
  aci: Buffer;
  /** The .aci.asc; left out, the signature PUT is skipped (as dgr's client may). */
  asc?: Buffer;
  /** The name argument; version, os and arch as its `:version` and `,os=`, `,arch=` parts. */
  name: string;
  version?: string;
  os?: string;
  arch?: string;
  auth?: AcpushAuth;
  /** Part order; acpush's own is manifest, signature, aci. */
  order?: readonly AcpushPart[];
  /** Replaces the re-serialised manifest part. */
  manifest?: Buffer;
}

export interface AcpushResult {
  exitCode: 0 | 1;
  /** What acpush prints on stderr: '' or one `err: ...` line. */
  stderr: string;
  start?: WireResponse;
  parts: { part: AcpushPart; status: number }[];
  completion?: WireResponse;
  /** The body of the completion POST (success, or the failure report). */
  report?: Json;
}

const fail = (r: AcpushResult, message: string): AcpushResult => ({ ...r, exitCode: 1, stderr: `err: ${message}` });

/** The whole acpush run, request by request as the real client makes them. */
export async function acpush(o: AcpushOptions): Promise<AcpushResult> {
  // With os and arch given and the manifest part supplied, the ACI is never opened (it may not unpack).
  const labels = new Map<string, string>(
    o.os !== undefined && o.arch !== undefined
      ? []
      : (JSON.parse((await manifestOf(o.aci)).toString()).labels ?? []).map((l: Json) => [l.name, l.value]),
  );
  // As acpush: os and arch from the name's labels, else the manifest; the version only from the name.
  const v = { name: o.name, version: o.version ?? 'latest', os: o.os ?? labels.get('os') ?? '', arch: o.arch ?? labels.get('arch') ?? '' };
  const result: AcpushResult = { exitCode: 0, stderr: '', parts: [] };
  const template = await discoverPushTemplate(o.origin, o.ca, o.name);
  if (!template) return fail(result, 'no push endpoint found');
  // The start POST and the next request share a connection; every later request opens its own.
  const shared = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const start = await wireRequest(renderTemplate(template, v), {
      method: 'POST',
      ca: o.ca,
      auth: o.auth,
      body: Buffer.alloc(0),
      agent: shared,
    });
    result.start = start;
    if (start.status !== 200 && start.status !== 400) return fail(result, `bad HTTP status code: ${start.status}`);
    const urls = start.json ?? {};
    const bodies: Record<AcpushPart, Buffer | undefined> = {
      manifest: o.manifest ?? reserializeManifest(await manifestOf(o.aci)),
      signature: o.asc,
      aci: o.aci,
    };
    let first = true;
    for (const part of o.order ?? ACPUSH_ORDER) {
      const body = bodies[part];
      if (!body) continue;
      const url = urls[`upload_${part}_url`];
      const res = await wireRequest(url, {
        method: 'PUT',
        ca: o.ca,
        auth: o.auth,
        body,
        chunked: part !== 'manifest',
        agent: first ? shared : undefined,
      });
      first = false;
      result.parts.push({ part, status: res.status });
      if (res.status !== 200 && res.status !== 400) {
        const reason = `error uploading ${part === 'aci' ? 'ACI' : part}: bad HTTP status code: ${res.status}`;
        await complete(o, urls.completed_url, { success: false, reason }, result);
        return fail(result, reason);
      }
    }
    const answer = await complete(o, urls.completed_url, { success: true }, result);
    if (answer.status !== 200) return fail(result, `bad HTTP status code: ${answer.status}`);
    if (!answer.json) return fail(result, 'unexpected end of JSON input');
    return answer.json.success === true ? result : fail(result, answer.json.server_reason ?? '');
  } finally {
    shared.destroy();
  }
}

async function complete(o: AcpushOptions, url: string, report: Json, result: AcpushResult): Promise<WireResponse> {
  result.report = report;
  result.completion = await wireRequest(url, { method: 'POST', ca: o.ca, auth: o.auth, body: Buffer.from(JSON.stringify(report)) });
  return result.completion;
}
