import { userInfo } from 'node:os';
import type { AuditInput } from '../registry/audit-log.ts';
import type { Registry } from '../registry/registry.ts';

/** Who acted from the command line: there is no token, so the operating-system user. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

/** Records a key or token change made with the CLI in the same audit log as the server's mutations. */
export async function auditCli(registry: Registry, input: Omit<AuditInput, 'actor'>): Promise<void> {
  await registry.audit.record({ actor: cliActor(), ...input });
}
