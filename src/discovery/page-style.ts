import { VERSION_COLUMNS } from './people-sections.ts';

// Below this width the versions table turns into one block per version, each value under its label.
const NARROW = '40rem';

/**
 * The page's whole style sheet, inline so a page is one request. System fonts,
 * readable line lengths, colours with WCAG AA contrast in light and dark schemes.
 * Nothing may widen the page past a phone's screen: long names break anywhere,
 * commands wrap (a soft wrap is not copied), and the versions table reflows on a
 * phone, scrolling only inside its own box should a wide screen still be too narrow.
 */
export const PAGE_STYLE = [
  ':root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f3f5f7;--line:#d0d7de;--link:#0a58ca;--badge:#116329}',
  '@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9ea7b3;--bg:#0d1117;--panel:#161b22;--line:#30363d;--link:#6cb6ff;--badge:#3fb950}}',
  '*{box-sizing:border-box}',
  'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}',
  'header,main,footer{max-width:72rem;margin:0 auto;padding:.75rem 1rem;overflow-wrap:anywhere}',
  'header{border-bottom:1px solid var(--line)}',
  'footer{color:var(--muted);font-size:.875rem;border-top:1px solid var(--line)}',
  'a{color:var(--link)}',
  'h1{font-size:1.6rem;margin:.5rem 0;overflow-wrap:anywhere}',
  'h2{font-size:1.2rem;margin:1.5rem 0 .5rem}',
  'code,pre{font:.875rem/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}',
  'pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow-x:auto;margin:.25rem 0 1rem;white-space:pre-wrap}',
  '.muted{color:var(--muted)}',
  '.badge{display:inline-block;border:1px solid var(--badge);color:var(--badge);border-radius:1rem;padding:0 .5rem;font-size:.75rem}',
  '.scroll{overflow-x:auto}',
  'table{border-collapse:collapse;width:100%;font-size:.9rem}',
  'th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}',
  'th{font-weight:600}',
  // Versions and signers can be long: they wrap rather than push the table wider than the page.
  'table.versions tbody th,table.versions td:nth-child(6){white-space:normal;min-width:6rem}',
  'caption{text-align:left;padding:.25rem 0}',
  'ul.names{list-style:none;padding:0;margin:0}',
  'ul.names li{padding:.35rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}',
  'nav.pages{display:flex;flex-wrap:wrap;gap:.5rem 1rem;margin:.75rem 0}',
  `@media (max-width:${NARROW}){`,
  'table.versions,table.versions caption,table.versions tbody,table.versions tr,table.versions th,table.versions td{display:block}',
  // Still read by screen readers, which keep the header row's labels.
  'table.versions thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}',
  'table.versions tr{border-bottom:1px solid var(--line);padding:.4rem 0}',
  'table.versions th,table.versions td{border:0;padding:.1rem 0;white-space:normal}',
  ...VERSION_COLUMNS.slice(1).map((label, i) => `table.versions td:nth-child(${i + 2})::before{content:"${label}: ";color:var(--muted)}`),
  '}',
].join('\n');
