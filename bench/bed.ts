/**
 * The test bed of the nginx comparison: acihost on a fresh storage with a trusted
 * gpg key, a push token and one published 256 MiB image (localhost/bench/app), and
 * nginx serving the same files. Both run at once, idle while the other is measured,
 * on the same cores: one, or both (`place`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createGpg, type Gpg, type GpgKey } from '../test/helpers/gpg.ts';
import { AcihostProcess, acihostCli, get, prepareSite, seedNames, type Site } from './acihost.ts';
import { push } from './curl.ts';
import { bodyMember, writeImage } from './images.ts';
import { NginxProcess, prepareNginx, type NginxSite } from './nginx.ts';
import { coresLabel, freePort, ONE_CORE, waitFor, type Placement } from './processes.ts';
import { layout } from '../src/storage/layout.ts';

export const APP = 'localhost/bench/app';
export const DISCOVERY_PATH = '/bench/app?ac-discovery=1';
export const ACI_PATH = `/-/aci/${APP}/1.0.0/linux/amd64.aci`;

export class Bed {
  readonly work: string;
  readonly cacheDir: string;
  readonly site: Site;
  readonly gpg: Gpg;
  readonly key: GpgKey;
  readonly token: string;
  readonly say: (line: string) => void;
  /** Extra node options for every acihost process (--cpu-prof). */
  readonly nodeArgs: string[];
  acihost!: AcihostProcess;
  /** Where both servers run now, and their load. */
  placement: Placement = ONE_CORE;
  private reference?: { site: NginxSite; process?: NginxProcess };
  caPem = '';
  /** Names in the catalogue (bench/app, then seeded ones; pushes add a few more later). */
  names = 1;
  imageBytes = 0;

  private constructor(init: Pick<Bed, 'work' | 'cacheDir' | 'site' | 'gpg' | 'key' | 'token' | 'say' | 'nodeArgs'>) {
    this.nodeArgs = init.nodeArgs;
    this.work = init.work;
    this.cacheDir = init.cacheDir;
    this.site = init.site;
    this.gpg = init.gpg;
    this.key = init.key;
    this.token = init.token;
    this.say = init.say;
  }

  get caFile(): string {
    return join(this.site.certsDir, 'ca.pem');
  }
  get logFile(): string {
    return join(this.work, 'acihost.log');
  }
  get keyPath(): string {
    return `/-/keys/${this.key.fingerprint}.asc`;
  }

  get nginxSite(): NginxSite {
    if (!this.reference) throw new Error('this bench runs without nginx');
    return this.reference.site;
  }
  get nginx(): NginxProcess {
    if (!this.reference?.process) throw new Error('this bench runs without nginx');
    return this.reference.process;
  }

  /** acihost with the app published; with `nginx`, also nginx over the same files. `env` picks the backend. */
  static async create(
    work: string,
    cacheDir: string,
    imageMiB: number,
    say: (line: string) => void,
    opts: { nginx: boolean; env?: Record<string, string>; nodeArgs?: string[] },
  ): Promise<Bed> {
    const certsDir = join(work, 'certs');
    const site = await prepareSite(join(work, 'acihost'), await freePort(), certsDir, opts.env);
    const gpg = await createGpg();
    const key = await gpg.genKey({ algo: 'rsa3072', uid: 'bench <bench@localhost>' });
    const keyFile = await gpg.writeFile('bench.asc', await gpg.exportPublic(key.fingerprint));
    await acihostCli(site, ['key', 'add', '--prefix', 'localhost/bench', keyFile]);
    const token = (await acihostCli(site, ['token', 'create', '--prefix', 'localhost/bench', '--name', 'bench'])).split('\n')[0]!;
    const bed = new Bed({ work, cacheDir, site, gpg, key, token, say, nodeArgs: opts.nodeArgs ?? [] });
    await bed.startAcihost();
    await bed.publishApp(imageMiB);
    if (opts.nginx) {
      const nginxSite = await prepareNginx(
        join(work, 'nginx'),
        await freePort(),
        join(certsDir, 'server.pem'),
        join(certsDir, 'server-key.pem'),
      );
      bed.reference = { site: nginxSite };
      await bed.mirrorToNginx();
      bed.reference.process = await NginxProcess.start(nginxSite, bed.placement);
    }
    return bed;
  }

  async startAcihost(): Promise<void> {
    const ca = () => this.caPem || this.readCa();
    this.acihost = await AcihostProcess.start(this.site, this.logFile, ca, this.nodeArgs, this.placement.server);
    this.caPem ||= this.readCa();
  }

  /**
   * Restarts both servers on `placement`'s cores, unless they run there already:
   * acihost in its default configuration (a worker per core), nginx with as many workers.
   */
  async place(placement: Placement): Promise<void> {
    if (placement.server === this.placement.server && placement.load === this.placement.load) return;
    this.say(`bench: servers on ${coresLabel(placement)} (${placement.server}), load on ${placement.load}`);
    await this.acihost.stop();
    if (this.reference?.process) await this.reference.process.stop();
    this.placement = placement;
    if (this.reference) this.reference.process = await NginxProcess.start(this.reference.site, placement);
    await this.startAcihost();
  }

  /** The development CA, once acihost's first start has written it. */
  private readCa(): string {
    return existsSync(this.caFile) ? readFileSync(this.caFile, 'utf8') : '';
  }

  /** Writes and signs an image of the cached body for `name` `version`; returns the .aci and .asc paths. */
  async image(body: string, name: string, version: string): Promise<{ aci: string; asc: string; size: number }> {
    const aci = join(this.work, 'images', `${name.replaceAll('/', '_')}-${version}.aci`);
    const size = await writeImage(aci, body, name, version);
    const asc = await this.gpg.signFile(aci, this.key.fingerprint);
    return { aci, asc, size };
  }

  private async publishApp(imageMiB: number): Promise<void> {
    const body = await bodyMember(this.cacheDir, imageMiB, this.say);
    const { aci, asc, size } = await this.image(body, APP, '1.0.0');
    await push(this.site.url, this.caFile, this.token, aci, asc);
    this.imageBytes = size;
    await rm(aci);
    await rm(asc);
  }

  /** nginx's tree: the stored blob (a hard link), the served signature and key, the rendered discovery page. */
  private async mirrorToNginx(): Promise<void> {
    const record = JSON.parse(await readFile(join(this.site.storageDir, 'images', APP, '_v', 'linux-amd64', '1.0.0.json'), 'utf8')) as {
      blob: string;
    };
    const www = this.nginxSite.www;
    const place = async (path: string, content: Buffer | string) => {
      await mkdir(dirname(join(www, path)), { recursive: true });
      await writeFile(join(www, path), content);
    };
    await mkdir(dirname(join(www, ACI_PATH)), { recursive: true });
    await link(join(this.site.storageDir, record.blob), join(www, ACI_PATH));
    await place(`${ACI_PATH}.asc`, await this.fetch(`${ACI_PATH}.asc`));
    await place(this.keyPath, await this.fetch(this.keyPath));
    await place('/bench/app.html', await this.fetch(DISCOVERY_PATH));
  }

  async fetch(path: string): Promise<Buffer> {
    const res = await get(this.site.url + path, this.caPem);
    if (res.status !== 200) throw new Error(`bench: GET ${path} answered ${res.status}`);
    return res.body;
  }

  /** Grows the catalogue to `total` names by writing records while acihost is stopped, then restarts it. */
  async growCatalogue(total: number): Promise<void> {
    if (total <= this.names) return;
    await this.acihost.stop();
    await seedNames(this.site.storageDir, this.names - 1, total - 1);
    this.names = total;
    // The names were written behind the server's back, with no journal entries: a snapshot of the
    // index from before is stale, and restoring it would leave the sweep after the start to find
    // them while the load runs. Without it the start reads every record.
    const snapshot = join(this.site.storageDir, layout.indexSnapshot);
    await rm(snapshot, { force: true });
    await this.startAcihost();
    // Wait for the start's own snapshot (from 1,000 names), so its writing is not measured either.
    if (total >= 1000) await waitFor('the index snapshot', async () => existsSync(snapshot), 60_000, 100);
  }

  async close(keep: boolean): Promise<void> {
    await this.acihost?.stop().catch(() => undefined);
    await this.reference?.process?.stop().catch(() => undefined);
    await this.gpg.cleanup();
    if (!keep) await rm(this.work, { recursive: true, force: true });
  }
}
