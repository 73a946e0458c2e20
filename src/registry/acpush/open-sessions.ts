/** One open session as counted: its token and its last activity (ms since epoch). */
export interface OpenSession {
  tokenId: string;
  active: number;
}

/** The changes made while a recount lists storage, which its listing may or may not have seen. */
export interface Recount {
  added: Set<string>;
  removed: Set<string>;
}

/**
 * The acpush sessions in storage, counted in memory so that neither a start
 * (the per-token limit) nor a metrics scrape lists them. This process keeps it
 * current for the sessions it starts and ends; the sweep, which lists every
 * session anyway, replaces it with what storage holds (sessions of other
 * processes sharing the storage, sessions from before a restart).
 */
export class OpenSessions {
  private sessions = new Map<string, OpenSession>();
  private readonly recounts = new Set<Recount>();

  get size(): number {
    return this.sessions.size;
  }

  tokenOf(id: string): string | undefined {
    return this.sessions.get(id)?.tokenId;
  }

  /** Sessions of `tokenId` active since `since`: an idle one is expired, whether or not swept yet. */
  countFor(tokenId: string, since: number): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.tokenId === tokenId && s.active > since) n++;
    return n;
  }

  add(id: string, tokenId: string, now: number): void {
    this.sessions.set(id, { tokenId, active: now });
    for (const r of this.recounts) r.added.add(id);
  }

  touch(id: string, now: number): void {
    const s = this.sessions.get(id);
    if (s) s.active = Math.max(s.active, now);
  }

  remove(id: string): void {
    this.sessions.delete(id);
    for (const r of this.recounts) r.removed.add(id);
  }

  /** Call before listing storage; pass the listing to `endRecount`. */
  beginRecount(): Recount {
    const recount: Recount = { added: new Set(), removed: new Set() };
    this.recounts.add(recount);
    return recount;
  }

  /** What storage listed, less what ended meanwhile, plus what started meanwhile. */
  endRecount(recount: Recount, listed: ReadonlyMap<string, OpenSession>): void {
    this.recounts.delete(recount);
    const next = new Map<string, OpenSession>();
    for (const [id, s] of listed) {
      if (recount.removed.has(id)) continue;
      next.set(id, { tokenId: s.tokenId, active: Math.max(s.active, this.sessions.get(id)?.active ?? 0) });
    }
    for (const id of recount.added) {
      const s = this.sessions.get(id);
      if (s) next.set(id, { ...s, active: Math.max(s.active, next.get(id)?.active ?? 0) });
    }
    this.sessions = next;
  }

  /** Forgets a recount that failed; the count stays as this process kept it. */
  abandonRecount(recount: Recount): void {
    this.recounts.delete(recount);
  }
}
