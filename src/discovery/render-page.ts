import type { MetaTag } from './discovery-tags.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double-quoted attributes alike. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/**
 * A small, complete HTML page carrying the discovery meta tags. Clients tokenise
 * it as HTML and unescape attributes, so every value is escaped once.
 */
export function renderDiscoveryPage(title: string, tags: MetaTag[]): string {
  const metas = tags.map((t) => `<meta name="${t.name}" content="${escapeHtml(`${t.prefix} ${t.url}`)}">`).join('\n');
  const items = tags
    .filter((t) => t.name === 'ac-discovery')
    .map((t) => `<li><code>${escapeHtml(t.prefix)}</code></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${metas}
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${items ? `<ul>\n${items}\n</ul>` : '<p>No images here yet.</p>'}
</body>
</html>
`;
}
