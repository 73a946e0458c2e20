/** What a supervisor and its workers say to each other over the cluster's IPC channel. */

/** A worker is listening and has started its jobs. */
export interface ReadyMessage {
  acihost: 'ready';
}

/** Said by a worker to the supervisor, which passes it to every other worker. */
export interface PeerMessage {
  acihost: 'peer';
  topic: string;
  data: unknown;
}

/** A worker asks for the whole server's metrics (every worker's, summed), and gets them back. */
export interface ScrapeRequest {
  acihost: 'scrape';
  id: number;
}
export interface ScrapeReply {
  acihost: 'scraped';
  id: number;
  text?: string;
  error?: string;
}

export type WorkerMessage = ReadyMessage | PeerMessage | ScrapeRequest | ScrapeReply;

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && typeof (m as { acihost?: unknown }).acihost === 'string';

/** The environment variable that gives each worker its slot; slot 0 runs the once-only jobs. */
export const SLOT_VARIABLE = 'ACIHOST_WORKER_SLOT';
