import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/registry/audit-log.ts';

/** Every audit event under a storage directory, in time order (one file per event, one JSON line each). */
export async function readAudit(storageDir: string): Promise<AuditEvent[]> {
  const root = join(storageDir, 'audit');
  const days = await readdir(root).catch(() => [] as string[]);
  const events: AuditEvent[] = [];
  for (const day of days.sort()) {
    for (const file of (await readdir(join(root, day))).sort()) {
      const text = await readFile(join(root, day, file), 'utf8');
      if (!text.endsWith('\n') || text.indexOf('\n') !== text.length - 1) throw new Error(`${file} is not exactly one JSON line`);
      events.push(JSON.parse(text) as AuditEvent);
    }
  }
  return events;
}
