/**
 * Pushes counted from the audit log's events: every front door (curl push,
 * acpush, import) records its outcome there, refusals included, so counting
 * there counts each push once.
 */
import type { AuditLog } from '../../registry/audit-log.ts';
import type { Metrics } from './metrics.ts';

export function countPushes(audit: AuditLog, metrics: Metrics): void {
  audit.observe((event) => {
    if (event.action !== 'push') return;
    metrics.pushes.inc({ result: event.result, code: event.code ?? '' });
    if (event.code?.startsWith('SIGNATURE_')) metrics.signatureFailures.inc({ code: event.code });
  });
}
