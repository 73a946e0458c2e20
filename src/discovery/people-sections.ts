import type { VersionRecord } from '../registry/catalog/version-record.ts';
import type { ConversionRecord } from '../registry/mirror/conversions.ts';
import { curl, type Command } from './page-commands.ts';
import type { NameEntry, PageModel, PageQuota } from './page-model.ts';
import { pagePath } from './page-model.ts';
import { escapeHtml as esc } from './render-page.ts';

/** Every function here returns HTML in which each value from a name, label or record is escaped. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatSize(bytes: number): string {
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** `sha512-` and the first 12 hex digits: enough to tell images apart; the full ID is in the title and the API. */
export const shortImageId = (id: string): string => id.slice(0, 'sha512-'.length + 12);

const time = (iso: string) => `<time datetime="${esc(iso)}">${esc(iso.slice(0, 16).replace('T', ' '))} UTC</time>`;

/** The versions table's columns, in the order of a row's cells; the phone layout labels each cell with them (page-style.ts). */
export const VERSION_COLUMNS = ['Version', 'OS/arch', 'Size', 'Pushed', 'Image ID', 'Signed by (key)', 'Files'] as const;

// Links in a row are relative: the rows are most of a page's bytes, and the page must stay small.
function versionRow(r: VersionRecord, isLatest: boolean): string {
  const fileUrl = `/-/aci/${r.name}/${r.version}/${r.os}/${r.arch}`;
  return (
    `<tr><th scope="row">${esc(r.version)}${isLatest ? ' <span class="badge">latest</span>' : ''}</th>` +
    `<td>${esc(r.os)}/${esc(r.arch)}</td>` +
    `<td><span title="${r.size} bytes">${formatSize(r.size)}</span></td>` +
    `<td>${time(r.pushedAt)}</td>` +
    `<td><code title="${esc(r.imageId)}">${esc(shortImageId(r.imageId))}…</code></td>` +
    `<td><a href="${esc(`/-/keys/${r.signer}.asc`)}"><code>${esc(r.signer)}</code></a></td>` +
    `<td><a href="${esc(fileUrl)}.aci">.aci</a> <a href="${esc(fileUrl)}.aci.asc">.asc</a></td></tr>`
  );
}

export function versionsSection(m: PageModel): string {
  const image = m.image!;
  const apiUrl = `${m.origin}/-/api/images/${m.name}`;
  if (!image.visible) {
    return (
      `<section aria-labelledby="versions"><h2 id="versions">Versions</h2>` +
      `<p>This image is private: its versions and sizes are listed only for a token with the <code>pull</code> scope ` +
      `(<code>${esc(curl(m))} -H "Authorization: Bearer $TOKEN" ${esc(apiUrl)}</code>).</p></section>`
    );
  }
  const rows = image.versions.map((r) => versionRow(r, image.latest.has(r))).join('\n');
  const more =
    image.total > image.versions.length
      ? `<p class="muted">Showing the ${image.versions.length} highest of ${image.total} versions; <a href="${esc(apiUrl)}">the JSON API</a> lists all.</p>`
      : '';
  return (
    `<section aria-labelledby="versions"><h2 id="versions">Versions</h2><div class="scroll"><table class="versions">` +
    `<caption class="muted">${image.total} version${image.total === 1 ? '' : 's'}, highest first</caption>` +
    `<thead><tr>${VERSION_COLUMNS.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr></thead>` +
    `<tbody>\n${rows}\n</tbody></table></div>${more}</section>`
  );
}

function nameItem(e: NameEntry): string {
  const detail = e.latest
    ? ` <span class="muted">latest ${esc(e.latest)}, ${e.platforms} platform${e.platforms === 1 ? '' : 's'}</span>`
    : e.isPrivate
      ? ' <span class="muted">private</span>'
      : '';
  return `<li><a href="${esc(e.href)}">${esc(e.name)}</a>${detail}</li>`;
}

function pager(m: PageModel): string {
  const { page, pages } = m.below;
  if (pages <= 1) return '';
  const href = (p: number) => esc(`${pagePath(m.domain, m.name)}?page=${p}`);
  const prev = page > 1 ? `<a href="${href(page - 1)}" rel="prev">← Previous</a>` : '';
  const next = page < pages ? `<a href="${href(page + 1)}" rel="next">Next →</a>` : '';
  return `<nav class="pages" aria-label="Pages of names">${prev}<span>Page ${page} of ${pages}</span>${next}</nav>`;
}

export function namesSection(m: PageModel): string {
  const { names, total } = m.below;
  if (total === 0) return '';
  const title = m.image ? `Images below ${m.name}` : 'Images';
  return (
    `<section aria-labelledby="names"><h2 id="names">${esc(title)} <span class="muted">(${total})</span></h2>` +
    `<ul class="names">\n${names.map(nameItem).join('\n')}\n</ul>${pager(m)}</section>`
  );
}

/** rkt discovers on port 443 only: on any other port, say so next to the commands. */
function portNote(origin: string): string {
  const port = new URL(origin).port;
  if (!port) return '';
  return (
    `<p class="muted">rkt discovers images on port 443 only, and this server answers on port ${esc(port)}: serve it on 443 ` +
    `(the README says how), or check discovery with <code>actool discover --port ${esc(port)} NAME</code>.</p>`
  );
}

export function commandsSection(origin: string, commands: Command[]): string {
  const items = commands.map((c) => `<p>${esc(c.label)}</p><pre tabindex="0"><code>${esc(c.text)}</code></pre>`).join('\n');
  return `<section aria-labelledby="use"><h2 id="use">Use it</h2>\n${portNote(origin)}${items}</section>`;
}

function prefixesBelow(m: PageModel): string {
  const { prefixes, total } = m.keyPrefixesBelow;
  const links = prefixes.map((p) => `<li><a href="${esc(pagePath(m.domain, p))}">${esc(p)}</a></li>`).join('\n');
  const more =
    total > prefixes.length
      ? `<p class="muted">and ${total - prefixes.length} more; <a href="${esc(`${m.origin}/-/api/keys`)}">the JSON API</a> lists every key.</p>`
      : '';
  return `<ul class="names">\n${links}\n</ul>${more}`;
}

export function keysSection(m: PageModel): string {
  const open = `<section aria-labelledby="keys"><h2 id="keys">Signing keys</h2>`;
  const below = m.keyPrefixesBelow.total > 0;
  if (m.keys.length === 0) {
    const none = below
      ? `<p>No key is trusted for ${esc(m.name)} itself. These prefixes below it have keys:</p>${prefixesBelow(m)}`
      : `<p>No key is trusted for ${esc(m.name)} or any prefix below it yet.</p>`;
    return `${open}${none}</section>`;
  }
  const rows = m.keys
    .map(
      (k) =>
        `<li><a href="${esc(k.url)}"><code>${esc(k.fingerprint)}</code></a> ${esc(k.userId)} <span class="muted">for ${esc(k.prefix)}</span></li>`,
    )
    .join('\n');
  const also = below ? `<p>These prefixes below it have keys of their own:</p>${prefixesBelow(m)}` : '';
  return `${open}<ul class="names">\n${rows}\n</ul>${also}</section>`;
}

function quotaLine(domain: string, q: PageQuota): string {
  const bytes = q.maxBytes === null ? '' : formatSize(q.maxBytes);
  const versions = q.maxVersions === null ? '' : `${q.maxVersions} version${q.maxVersions === 1 ? '' : 's'}`;
  const { used } = q;
  const parts = used
    ? [
        bytes && `<span title="${used.bytes} of ${q.maxBytes} bytes">${formatSize(used.bytes)} of ${bytes}</span>`,
        versions && `${used.versions} of ${versions}`,
      ]
    : [
        `at most ${[bytes, versions].filter(Boolean).join(' and ')} <span class="muted">(what is used is shown to a token with the pull scope)</span>`,
      ];
  return `<li><a href="${esc(pagePath(domain, q.prefix))}">${esc(q.prefix)}</a>: ${parts.filter(Boolean).join(', ')}</li>`;
}

/** The quotas that hold for the name: what the names at or below each prefix may hold together, and hold now. */
export function quotasSection(m: PageModel): string {
  if (!m.quotas?.length) return '';
  return (
    `<section aria-labelledby="quotas"><h2 id="quotas">Quotas</h2>` +
    `<p>Pushes here must fit what the names at or below each prefix may hold together:</p>` +
    `<ul class="names">\n${m.quotas.map((q) => quotaLine(m.domain, q)).join('\n')}\n</ul></section>`
  );
}

function conversionLine(c: ConversionRecord): string {
  const state =
    c.status === 'running'
      ? `converting, ${c.progress.platformsDone} of ${c.progress.platformsTotal || '?'} platforms done`
      : c.status === 'failed'
        ? `failed: ${esc(c.error?.code ?? '')} ${esc(c.error?.message ?? '')}`
        : `published ${c.images.map((i) => `${esc(i.version)} ${esc(i.os)}/${esc(i.arch)}`).join(', ')}` +
          (c.skipped.length ? `; skipped ${c.skipped.map((s) => esc(s.platform)).join(', ')}` : '');
  return `<li><code>${esc(c.source)}</code> (${esc(c.startedAt)}): ${state}</li>`;
}

/** The conversions of the name this server made lately: what they convert, how far they are, what they published. */
export function conversionsSection(m: PageModel): string {
  if (!m.conversions?.length) return '';
  return (
    `<section aria-labelledby="conversions"><h2 id="conversions">Conversions</h2>` +
    `<ul class="names">\n${m.conversions.map(conversionLine).join('\n')}\n</ul></section>`
  );
}
