import type { ServerResponse } from 'node:http';

/**
 * Aborted if the connection closes before the answer to `res` was sent: the client
 * hung up, or was cut as too slow. A small upload can be whole in the server's
 * buffers long before it is decoded; work for it stops then, instead of going on
 * with nobody left to answer.
 */
export function untilAnswered(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection before the answer'));
  };
  if (res.closed) onClose();
  else res.once('close', onClose);
  return controller.signal;
}
