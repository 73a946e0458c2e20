import type { Config } from '../config/schema.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';

/** A real day of the calendar written YYYY-MM-DD: 2026-02-30 is not one. */
export function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const day = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text;
}

/**
 * `acihost audit [export] [--since YYYY-MM-DD]`: the audit log as JSON lines, oldest first (any
 * storage backend). --json is accepted and changes nothing: the lines are JSON already.
 */
export async function auditCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  if (args[0] !== undefined && args[0] !== 'export') throw usageError(`audit takes export or nothing, got ${JSON.stringify(args[0])}`);
  const since = values.since;
  if (since !== undefined && !isCalendarDate(since))
    throw usageError(`--since ${JSON.stringify(since)} is not a date; give a day such as 2026-11-23 (UTC)`);
  return withRegistry(config, async (registry) => {
    for await (const event of registry.audit.read(since)) process.stdout.write(JSON.stringify(event) + '\n');
    return 0;
  });
}
