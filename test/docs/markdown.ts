/**
 * Just enough Markdown for the documentation tests: fenced code blocks, headings and their
 * GitHub anchors, links. Fences and inline code are skipped where they would hide or fake a
 * heading or a link.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

/** The README under test: the checkout's, or the file named by DOCS_README (to test another version of it). */
export function readmePath(): string {
  return process.env.DOCS_README ?? join(ROOT, 'README.md');
}

export function readReadme(): string {
  return readFileSync(readmePath(), 'utf8');
}

export interface CodeBlock {
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The text of the nearest `##` heading above it ('' before any). */
  section: string;
}

export function codeBlocks(text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^##\s+(.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!.trim();
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trim().startsWith(fence); j++) body.push(lines[j]!);
    blocks.push({ lang: open[3]!, body: body.join('\n'), line: i + 1, section });
    i = j;
  }
  return blocks;
}

/** The lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((l, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(l);
    if (fence) {
      if (m && l.trim().startsWith(fence)) fence = null;
      return;
    }
    if (m) {
      fence = m[1]!;
      return;
    }
    out.push({ line: i + 1, text: l });
  });
  return out;
}

/** GitHub's anchor for a heading: lowercased, punctuation dropped, spaces to dashes, repeats numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text: l } of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!m) continue;
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

export interface Link {
  target: string;
  line: number;
}

/** Inline links `[text](target)` outside code, with inline code spans removed first. */
export function links(text: string): Link[] {
  const out: Link[] = [];
  for (const { line, text: l } of proseLines(text)) {
    const prose = l.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, line });
  }
  return out;
}
