import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';

/** `acihost audit [--since YYYY-MM-DD]`: the audit log as JSON lines, oldest first (any storage backend). */
export async function auditCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  if (args.length > 0) throw usageError(`audit takes no arguments, got ${JSON.stringify(args[0])}`);
  const since = values.since;
  if (since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(since)) throw usageError('--since takes a day such as 2026-11-23');
  return withRegistry(config, async (registry) => {
    for await (const event of registry.audit.read(since)) process.stdout.write(JSON.stringify(event) + '\n');
    return 0;
  });
}
