/**
 * nginx as the reference: TLS with the same certificate, the same files (the
 * image is a hard link to acihost's stored blob), a static copy of the discovery
 * page, and a `dav_methods PUT` location as the push reference. One worker per
 * core it is given (taskset), the access log on and buffered, as a plain production
 * set-up would have it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { childPids, coresLabel, ONE_CORE, spawnPinned, stopChild, waitFor, type Placement } from './processes.ts';

export interface NginxSite {
  dir: string;
  port: number;
  url: string;
  /** Static files served at their URL path, under `dir`/www. */
  www: string;
  certFile: string;
  keyFile: string;
}

/** What the reference column of a row measured on `p`: nginx with a worker per core. */
export const nginxOn = (p: Placement) => `nginx, ${p.cores} worker${p.cores === 1 ? '' : 's'}, ${coresLabel(p)}`;

/** nginx as production runs it: `workers` worker processes (one per core it is given), the access log buffered. */
export function nginxConfig(site: NginxSite, certFile: string, keyFile: string, workers = 1): string {
  return `# written by acihost's bench/nginx.ts
user root;
worker_processes ${workers};
daemon off;
master_process on;
pid ${site.dir}/nginx.pid;
error_log ${site.dir}/error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${site.dir}/access.log combined buffer=64k flush=1s;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${site.dir}/put-tmp;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate ${certFile};
  ssl_certificate_key ${keyFile};
  ssl_session_cache shared:SSL:10m;
  server {
    listen 127.0.0.1:${site.port} ssl;
    root ${site.www};
    # The push reference: a plain upload written to a file.
    location /-/put/ {
      root ${site.dir};
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 0;
    }
    # Discovery: a static copy of the page acihost renders for the path.
    location /bench/ {
      default_type "text/html; charset=utf-8";
      add_header Cache-Control no-cache;
      try_files $uri.html =404;
    }
  }
}
`;
}

export async function prepareNginx(dir: string, port: number, certFile: string, keyFile: string): Promise<NginxSite> {
  const site = { dir, port, url: `https://127.0.0.1:${port}`, www: join(dir, 'www'), certFile, keyFile };
  await mkdir(join(dir, 'put-tmp'), { recursive: true });
  await mkdir(join(dir, '-', 'put'), { recursive: true });
  await mkdir(site.www, { recursive: true });
  return site;
}

/** A TLS connection that completes a request means nginx is up (the status does not matter). */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export class NginxProcess {
  readonly child: ChildProcess;
  private constructor(child: ChildProcess) {
    this.child = child;
  }

  /** nginx on `placement`'s server cores with a worker for each. */
  static async start(site: NginxSite, placement: Placement = ONE_CORE): Promise<NginxProcess> {
    const conf = join(site.dir, 'nginx.conf');
    await writeFile(conf, nginxConfig(site, site.certFile, site.keyFile, placement.cores));
    const child = spawnPinned(placement.server, 'nginx', ['-c', conf, '-p', site.dir, '-e', join(site.dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const p = new NginxProcess(child);
    try {
      await waitFor('nginx answering', () => answers(`${site.url}/`), 15_000, 100);
    } catch (e) {
      await p.stop();
      throw new Error(`${(e as Error).message}; see ${site.dir}/error.log`);
    }
    return p;
  }

  /** The workers' pids (they do the work, and hold the memory that a request costs). */
  get workerPids(): number[] {
    const workers = childPids(this.child.pid!);
    if (workers.length === 0) throw new Error('nginx has no worker process');
    return workers;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
