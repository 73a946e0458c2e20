import { ByteLru, type CacheUse } from '../util/byte-lru.ts';

export interface RenderedPage {
  status: 200 | 404;
  /** Encoded once: a page holds non-Latin-1 text, which would otherwise be transcoded on every send. */
  body: Buffer;
}

// An entry's cost besides its body and key: the page object and its map slot.
const ENTRY_OVERHEAD = 128;

/**
 * Rendered discovery pages, kept until the catalogue or the keys change, so an
 * answer costs a lookup however many names are stored. The caller keys a page by
 * what it shows (viewer, name, a page of names that exists), never by how the URL
 * was spelt; the bound is in bytes, the least recently used pages making room.
 */
export class PageCache {
  readonly #pages: ByteLru<string, RenderedPage>;
  readonly #stamp: () => number;
  #keptAt = Number.NaN;

  /** `stamp` changes whenever anything a page shows may have changed. */
  constructor(maxBytes: number, stamp: () => number) {
    this.#pages = new ByteLru(maxBytes, (page, key) => page.body.length + key.length + ENTRY_OVERHEAD);
    this.#stamp = stamp;
  }

  get use(): CacheUse {
    return this.#pages;
  }

  /** The page kept under `key`, or the one `render` makes, kept if it is a 200. */
  get(key: string, render: () => RenderedPage): RenderedPage {
    const stamp = this.#stamp();
    if (stamp !== this.#keptAt) {
      this.#pages.clear();
      this.#keptAt = stamp;
    }
    let page = this.#pages.get(key);
    if (!page) {
      page = render();
      // A not-found page is cheap to make and names whatever the client asked for: never kept.
      if (page.status === 200) this.#pages.set(key, page);
    }
    return page;
  }
}
