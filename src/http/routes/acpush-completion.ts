import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalid, isAcihostError } from '../../errors.ts';
import { statusOf } from '../error-handler.ts';
import type { CompletionAnswer } from '../completion-answer.ts';
import { countFailedAuth } from '../failed-auth-limit.ts';
import { markRefusedIn200 } from '../token-use.ts';

const MAX_REPORT_BYTES = 64 * 1024;

const reportSchema = z.looseObject({ success: z.boolean(), reason: z.string().max(4096).optional() });
export type CompletionReport = z.infer<typeof reportSchema>;


const REPORT_HINT = 'the completion body must be {"success":true}, or {"success":false,"reason":"..."} to give up';

/** The client's `{"success":true}` or failure report, at most 64 KiB of JSON. */
export async function readCompletionReport(body: Readable): Promise<CompletionReport> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_REPORT_BYTES)
      throw invalid('ACPUSH_REPORT_INVALID', `the completion body is over ${MAX_REPORT_BYTES} bytes; ${REPORT_HINT}`);
    chunks.push(chunk as Buffer);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalid('ACPUSH_REPORT_INVALID', `the completion body is not JSON; ${REPORT_HINT}`);
  }
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success) throw invalid('ACPUSH_REPORT_INVALID', REPORT_HINT);
  return parsed.data;
}

/**
 * Runs a completion and turns its outcome into the 200 JSON answer. A coded
 * error's code and message become server_reason; anything else is logged and
 * named by request id only, as the error handler does for a 500.
 */
export async function completionAnswer(request: FastifyRequest, work: () => Promise<void>): Promise<CompletionAnswer> {
  try {
    await work();
    return { success: true };
  } catch (e) {
    markRefusedIn200(request);
    if (isAcihostError(e)) {
      // A wrong token here is answered 200 like any refusal, but counts against the address like a 401.
      if (e.kind === 'unauthenticated') countFailedAuth(request);
      if (statusOf(e) >= 500) request.log.error({ err: e }, 'failed to complete acpush upload');
      else request.log.info({ code: e.code }, 'refused acpush upload');
      return { success: false, reason: e.code, server_reason: `${e.code}: ${e.message}` };
    }
    request.log.error({ err: e }, 'failed to complete acpush upload');
    const message = `internal error; the operator can find it in the server log under request id ${request.id}`;
    return { success: false, reason: 'INTERNAL', server_reason: `INTERNAL: ${message}` };
  }
}
