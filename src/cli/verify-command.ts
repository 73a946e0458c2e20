import type { Config } from '../config/schema.ts';
import { heapTuning } from '../runtime/heap-policy.ts';
import { verifyImages, type VersionCheck } from '../registry/upkeep/verify-images.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';

const out = (s: string) => process.stdout.write(s + '\n');

const label = (c: VersionCheck) => `${c.name} ${c.version} ${c.os}/${c.arch}`;

/** Rewrites one status line on a terminal; silent when stderr is a pipe or a file. */
function progress(): { show(text: string): void; clear(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    show(text) {
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      process.stderr.write(`\r\x1b[K${text}`);
    },
    clear() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * `acihost verify [--prefix P] [--json]`: one line per problem as it is found, then a
 * summary; exit 1 when anything is wrong, so a cron job or CI step can alert on it.
 */
export async function verifyCommand(config: Config, _args: string[], values: CliValues): Promise<number> {
  if ((values.prefix?.length ?? 0) > 1) throw usageError('verify takes at most one --prefix');
  const prefix = values.prefix?.[0]?.replace(/\/+$/, '');
  return withRegistry(config, async (registry, storage) => {
    const bar = progress();
    const listed: object[] = []; // only with --json: problems are printed as they are found otherwise
    let checked = 0;
    let bytes = 0;
    let problems = 0;
    let failedImages = 0;
    for await (const check of verifyImages({ storage, keys: registry.keys, limits: config.limits, prefix, onBytes: heapTuning().streamed })) {
      checked++;
      bytes += check.bytes;
      if (check.problems.length > 0) {
        failedImages++;
        problems += check.problems.length;
        const { bytes: _bytes, problems: found, ...coords } = check;
        bar.clear();
        if (values.json) listed.push(...found.map((p) => ({ ...coords, ...p })));
        else for (const p of found) out(`${label(check)}: ${p.message} (${p.code})`);
      }
      bar.show(`verified ${checked} image${checked === 1 ? '' : 's'}, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    }
    bar.clear();
    const scope = prefix ? ` under ${prefix}` : '';
    if (values.json) {
      out(JSON.stringify({ prefix: prefix ?? null, checked, bytes, problems: listed }, null, 2));
    } else {
      out(
        `verified ${checked} image${checked === 1 ? '' : 's'}${scope}: ${problems} problem${problems === 1 ? '' : 's'} in ${failedImages} image${failedImages === 1 ? '' : 's'}`,
      );
    }
    return problems > 0 ? 1 : 0;
  });
}
