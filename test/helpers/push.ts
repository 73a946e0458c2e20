import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CurlResult {
  status: number;
  json: any;
  raw: string;
}

/**
 * Pushes with the README's curl recipe (signature part first unless told
 * otherwise), through the real curl binary.
 */
export async function curlPush(opts: {
  origin: string;
  caFile: string;
  token?: string;
  aci?: string;
  asc?: string;
  ascFirst?: boolean;
  extraArgs?: string[];
}): Promise<CurlResult> {
  const parts: string[] = [];
  const asc = opts.asc ? ['-F', `asc=@${opts.asc}`] : [];
  const aci = opts.aci ? ['-F', `aci=@${opts.aci}`] : [];
  parts.push(...(opts.ascFirst === false ? [...aci, ...asc] : [...asc, ...aci]));
  const args = [
    '--silent',
    '--show-error',
    '--cacert',
    opts.caFile,
    '--write-out',
    '\n%{http_code}',
    ...(opts.token ? ['-H', `Authorization: Bearer ${opts.token}`] : []),
    ...parts,
    ...(opts.extraArgs ?? []),
    `${opts.origin}/-/push`,
  ];
  const { stdout } = await run('curl', args, { maxBuffer: 1 << 20 });
  const cut = stdout.lastIndexOf('\n');
  const raw = stdout.slice(0, cut);
  let json: any;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  return { status: Number(stdout.slice(cut + 1)), json, raw };
}
