import type { MetaTag } from './discovery-tags.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double-quoted attributes alike. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** The part of the page for people (src/discovery/people-page.ts): a style sheet and the body's content, already escaped. */
export interface PeopleContent {
  style: string;
  body: string;
}

/**
 * A small, complete HTML page carrying the discovery meta tags, and, when given,
 * the page for people below them. Clients tokenise it as HTML and unescape
 * attributes, so every value is escaped once.
 */
export function renderDiscoveryPage(title: string, tags: MetaTag[], people?: PeopleContent): string {
  const metas = tags.map((t) => `<meta name="${t.name}" content="${escapeHtml(`${t.prefix} ${t.url}`)}">`).join('\n');
  const items = tags
    .filter((t) => t.name === 'ac-discovery')
    .map((t) => `<li><code>${escapeHtml(t.prefix)}</code></li>`)
    .join('\n');
  const body = people ? people.body : `<h1>${escapeHtml(title)}</h1>\n${items ? `<ul>\n${items}\n</ul>` : '<p>No images here yet.</p>'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${metas}${people ? `\n<style>${people.style}</style>` : ''}
</head>
<body>
${body}
</body>
</html>
`;
}
