/**
 * Transfers with curl, pinned to the load cores (`load`, a taskset CPU list; the load
 * core unless given): downloads, the README's push recipe, and a plain PUT.
 */
import { LOAD_CORE, runPinned } from './processes.ts';

export interface Transfer {
  status: number;
  /** Body bytes moved (downloaded or uploaded). */
  bytes: number;
  seconds: number;
}

const MAX_SECONDS = 600;
const WRITE_OUT = '%{http_code} %{size_download} %{size_upload} %{time_total}';

async function curl(args: string[], load: string): Promise<Transfer> {
  const { stdout } = await runPinned(
    load,
    'curl',
    ['-sS', '--max-time', String(MAX_SECONDS), '-w', WRITE_OUT, ...args],
    (MAX_SECONDS + 10) * 1000,
  );
  const [status, down, up, seconds] = stdout.trim().split(/\s+/).slice(-4).map(Number) as [number, number, number, number];
  return { status, bytes: Math.max(down, up), seconds };
}

function expect(t: Transfer, statuses: number[], what: string): Transfer {
  if (!statuses.includes(t.status)) throw new Error(`bench: ${what} answered ${t.status}`);
  return t;
}

export async function download(url: string, caFile: string, range?: string, load = LOAD_CORE): Promise<Transfer> {
  const t = await curl(['--cacert', caFile, '-o', '/dev/null', ...(range ? ['-r', range] : []), url], load);
  return expect(t, range ? [206] : [200], `GET ${url}${range ? ` (range ${range})` : ''}`);
}

/** `streams` downloads of `url` at once; bytes are their sum, seconds the wall time of all. */
export async function downloadConcurrently(url: string, caFile: string, streams: number, load = LOAD_CORE): Promise<Transfer> {
  const started = performance.now();
  const all = await Promise.all(Array.from({ length: streams }, () => download(url, caFile, undefined, load)));
  return { status: 200, bytes: all.reduce((sum, t) => sum + t.bytes, 0), seconds: (performance.now() - started) / 1000 };
}

/** The README's recipe: multipart with the signature part first (or last, with `imageFirst`). */
export async function push(
  url: string,
  caFile: string,
  token: string,
  aci: string,
  asc: string,
  imageFirst = false,
  load = LOAD_CORE,
): Promise<Transfer> {
  const parts = imageFirst ? ['-F', `aci=@${aci}`, '-F', `asc=@${asc}`] : ['-F', `asc=@${asc}`, '-F', `aci=@${aci}`];
  const t = await curl(['--cacert', caFile, '-o', '/dev/null', '-H', `Authorization: Bearer ${token}`, ...parts, `${url}/-/push`], load);
  return expect(t, [201], `push of ${aci}`);
}

/** A plain upload (nginx's dav_methods PUT). */
export async function put(url: string, caFile: string, file: string, load = LOAD_CORE): Promise<Transfer> {
  const t = await curl(['--cacert', caFile, '-o', '/dev/null', '-T', file, url], load);
  return expect(t, [201, 204], `PUT ${url}`);
}
