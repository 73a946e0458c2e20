import { pageCommands } from './page-commands.ts';
import { pagePath, type PageModel } from './page-model.ts';
import { PAGE_STYLE } from './page-style.ts';
import { commandsSection, conversionsSection, keysSection, namesSection, quotasSection, versionsSection } from './people-sections.ts';
import { escapeHtml as esc, type PeopleContent } from './render-page.ts';

/** `example.com / team / app`, each parent a link, the current name the page's own. */
function breadcrumbs(domain: string, name: string): string {
  const parts = name === domain ? [] : name.slice(domain.length + 1).split('/');
  const links = [`<a href="/">${esc(domain)}</a>`];
  parts.forEach((part, i) => {
    const href = `/${parts.slice(0, i + 1).join('/')}`;
    links.push(i === parts.length - 1 ? `<span aria-current="page">${esc(part)}</span>` : `<a href="${esc(href)}">${esc(part)}</a>`);
  });
  return `<nav aria-label="Path">${links.join(' / ')}</nav>`;
}

function footer(origin: string): string {
  const api = `${origin}/-/api/`;
  return (
    `<footer>Served by acihost. For tools: <a href="${esc(api)}images">${esc(api)}images</a>, ` +
    `<a href="${esc(api)}keys">keys</a>, <a href="${esc(api)}openapi.json">OpenAPI</a>.</footer>`
  );
}

function intro(m: PageModel): string {
  const lock = m.isPrivate ? ' Downloads here need a token with the <code>pull</code> scope.' : '';
  if (m.mirrorOf) {
    return (
      `<p>A mirror of <code>${esc(m.mirrorOf)}</code>: each tag is converted into an App Container Image on its first fetch ` +
      `(<code>rkt fetch ${esc(m.name)}:TAG</code>) and signed by this server.${lock}</p>`
    );
  }
  if (m.image) return `<p>An App Container Image for <code>rkt</code>.${lock}</p>`;
  if (m.below.total > 0) return `<p>App Container Images under <code>${esc(m.name)}</code>, for <code>rkt fetch</code>.${lock}</p>`;
  return `<p>No images have been pushed under <code>${esc(m.name)}</code> yet.${lock} Push one with the recipe below.</p>`;
}

/** The page for people that shares one HTML document with the discovery meta tags. */
export function peoplePage(m: PageModel): PeopleContent {
  const sections = [
    intro(m),
    m.image ? versionsSection(m) : '',
    conversionsSection(m),
    namesSection(m),
    quotasSection(m),
    commandsSection(m.origin, pageCommands(m)),
    keysSection(m),
  ].filter(Boolean);
  const body = `<header>${breadcrumbs(m.domain, m.name)}</header>\n<main>\n<h1>${esc(m.name)}</h1>\n${sections.join('\n')}\n</main>\n${footer(m.origin)}`;
  return { style: PAGE_STYLE, body };
}

/** The friendly 404: still HTML, still no meta tags (so rkt walks up), with a way back. */
export function notFoundPage(domain: string, origin: string, name: string | undefined): PeopleContent {
  const what = name ? `<code>${esc(name)}</code>` : 'this address';
  const parent = name && name !== domain ? name.slice(0, name.lastIndexOf('/')) : undefined;
  const up = parent ? `<li><a href="${esc(pagePath(domain, parent))}">${esc(parent)}</a>, one level up</li>` : '';
  const body =
    `<header>${breadcrumbs(domain, domain)}</header>\n<main>\n<h1>Nothing here</h1>\n` +
    `<p>No image is published at ${what}, and no signing key is trusted for it.</p>\n` +
    `<ul>${up}<li><a href="/">Every image on ${esc(domain)}</a></li></ul>\n` +
    `<p class="muted">To publish here, trust a key for a prefix covering this name (<code>acihost key add --prefix …</code>) and push a signed image.</p>\n` +
    `</main>\n${footer(origin)}`;
  return { style: PAGE_STYLE, body };
}
