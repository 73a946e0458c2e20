/**
 * The benchmark's rates as an SVG bar chart of ratios: one bar per rate (req/s,
 * MiB/s) that has a reference, a line at 1 (as fast as the reference) and a tick
 * at each target. Latencies and memory stay in the table: their ratios to a
 * reference that does far less would only stretch the scale.
 * Plain SVG text, so it renders in a browser and on the repository's page with
 * no library. `node bench/chart.ts RESULTS.json OUT.svg` draws a saved run again.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Figure } from './report.ts';

type Charted = Pick<Figure, 'label' | 'unit' | 'ratio' | 'target' | 'met' | 'versus'>;

const ROW = 22;
const LABEL_WIDTH = 560;
const BAR_WIDTH = 380;
const TOP = 48;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function chartSvg(figures: Charted[], reference: string, title: string): string {
  const rows = figures.filter(
    (f): f is Charted & { ratio: number } =>
      (f.unit === 'req/s' || f.unit === 'MiB/s') && f.ratio !== undefined && Number.isFinite(f.ratio),
  );
  const limits = rows.flatMap((f) => (f.target?.on === 'ratio' ? [f.target.limit] : []));
  const max = Math.max(1.25, ...rows.map((f) => f.ratio), ...limits) * 1.1;
  const x = (ratio: number) => LABEL_WIDTH + (ratio / max) * BAR_WIDTH;
  // Rows measured against another reference (nginx with 2 workers, acihost on 1 core) name it.
  const named = rows.some((f) => f.versus !== undefined);
  const name = (f: Charted) => `${f.label} (${f.unit})${named ? `, vs ${f.versus ?? reference}` : ''}`;
  const versus = named ? 'the reference named in each row' : reference;
  const width = LABEL_WIDTH + BAR_WIDTH + 70;
  const height = TOP + rows.length * ROW + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="8" y="38" fill="#555">rates, acihost ÷ ${escape(versus)}: 1 is as fast, higher is better; a tick marks the target</text>`,
  ];
  rows.forEach((f, i) => {
    const y = TOP + i * ROW;
    const fill = f.met === false ? '#c0392b' : '#2e86c1';
    // The figure's text goes past both the bar and its target's tick.
    const textX = Math.max(x(f.ratio), f.target?.on === 'ratio' ? x(f.target.limit) : 0) + 5;
    parts.push(
      `<g class="figure">`,
      `<title>${escape(`${name(f)}: ${f.ratio.toFixed(2)}×`)}</title>`,
      `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escape(name(f))}</text>`,
      `<rect class="bar" x="${LABEL_WIDTH}" y="${y + 4}" width="${(x(f.ratio) - LABEL_WIDTH).toFixed(1)}" height="${ROW - 8}" fill="${fill}"/>`,
      `<text x="${textX.toFixed(1)}" y="${y + 15}">${f.ratio.toFixed(2)}×</text>`,
    );
    if (f.target?.on === 'ratio') {
      const tx = x(f.target.limit).toFixed(1);
      parts.push(`<line class="target" x1="${tx}" x2="${tx}" y1="${y + 1}" y2="${y + ROW - 1}" stroke="#000" stroke-width="2"/>`);
    }
    parts.push(`</g>`);
  });
  const one = x(1).toFixed(1);
  parts.push(
    `<line class="reference" x1="${one}" x2="${one}" y1="${TOP - 4}" y2="${TOP + rows.length * ROW + 4}" stroke="#555" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${TOP + rows.length * ROW + 20}" text-anchor="middle" fill="#555">1×</text>`,
    `</svg>`,
  );
  return parts.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node bench/chart.ts RESULTS.json OUT.svg');
    process.exit(2);
  }
  const results = JSON.parse(await readFile(input, 'utf8')) as { mode: string; startedAt: string; figures: Figure[] };
  const reference = results.mode === 's3' ? 'SDK→RGW' : 'nginx';
  await writeFile(output, chartSvg(results.figures, reference, `acihost against ${reference}, ${results.startedAt.slice(0, 10)}`));
}
