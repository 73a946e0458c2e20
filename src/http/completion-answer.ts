import type { ErrorCode } from '../error-codes.ts';

/**
 * What acpush reads from the completion: success, or a server_reason that it
 * prints as `err: <server_reason>` (acpush-wire.md 1e), never `reason`.
 */
export type CompletionAnswer = { success: true } | { success: false; reason: ErrorCode; server_reason: string };
