/**
 * The other worker processes of this server on the same machine (src/ops/workers/), which
 * share its port and its storage. What one of them learns that the others must know at
 * once (a failed authentication, an ACME challenge) is told to them; what storage already
 * carries needs no telling. A server of one process has no peers and does every job itself.
 */
export interface Peers {
  /** Tells every other worker; nothing comes back. */
  tell(topic: string, data: unknown): void;
  /** Hears what the other workers tell on `topic`. */
  hear(topic: string, listener: (data: unknown) => void): void;
  /**
   * Whether this process runs the jobs that must happen once per server: the sweep's
   * removals, certificate renewal, scheduled verification and retention. Another server
   * on the same storage (a replica) runs its own, and storage settles between them.
   */
  readonly runsUpkeep: boolean;
}

export const NO_PEERS: Peers = { tell: () => {}, hear: () => {}, runsUpkeep: true };
