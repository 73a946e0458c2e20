/**
 * The page as a person sees it: Debian's headless Chromium, driven by playwright-core,
 * loads the page after a push with JavaScript off, finds the image, its versions and
 * the commands, and saves screenshots (wide and phone) under test-output/ (gitignored).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createFixture, type Fixture } from '../helpers/fixture.ts';

// /usr/lib/chromium/chromium avoids the /usr/bin/chromium wrapper's warning.
const CHROMIUM = '/usr/lib/chromium/chromium';
const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;

// Names and versions as long as a push accepts, with runs no word break helps with.
const LONG_NAME = `localhost/team/${'averylongimagenamewithoutanybreaks'.repeat(3)}/and-a-second-rather-long-segment`;
const LONG_VERSION = `1.0.0-rc.1+build.${'0123456789abcdef'.repeat(6)}`;

/**
 * What sticks out of the viewport sideways, as `TAG.class (left..right)`: every element
 * must lie within it, or inside a box that scrolls sideways and itself lies within it.
 */
async function outsideViewport(page: Page): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const width = window.innerWidth;
    const inside = (r) => r.left >= -0.5 && r.right <= width + 0.5;
    const scrollsWithin = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if ((o === 'auto' || o === 'scroll') && inside(a.getBoundingClientRect())) return true;
      }
      return false;
    };
    return [...document.body.querySelectorAll('*')]
      .filter((el) => !inside(el.getBoundingClientRect()) && !scrollsWithin(el))
      .map((el) => { const r = el.getBoundingClientRect(); return el.tagName + '.' + el.className + ' (' + Math.round(r.left) + '..' + Math.round(r.right) + ')'; });
  })()`)) as string[];
}

describe('the page in a real browser', () => {
  let f: Fixture;
  let browser: Browser;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    // playwright gives each launch a fresh temporary profile, so no --user-data-dir is needed.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    for (const [version, arch] of [
      ['1.0.0', 'amd64'],
      ['1.1.0', 'amd64'],
      ['1.1.0', 'aarch64'],
    ]) {
      assert.equal((await f.push({ name: 'localhost/team/app', version, arch })).status, 201);
    }
    for (const [version, arch] of [
      [LONG_VERSION, 'amd64'],
      ['1.0.0', 'aarch64'],
    ]) {
      assert.equal((await f.push({ name: LONG_NAME, version, arch })).status, 201);
    }
    await mkdir(OUTPUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await f?.close();
  });

  it('shows the image, its versions and the commands without JavaScript, and saves a screenshot', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${f.server.origin}/team/app`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.title(), 'localhost/team/app');
      await page.getByRole('heading', { level: 1, name: 'localhost/team/app' }).waitFor();
      const rows = page.getByRole('table').getByRole('row');
      assert.equal(await rows.count(), 4, 'a header row and three versions');
      const versions = await page.getByRole('rowheader').allInnerTexts();
      assert.deepEqual(
        versions.map((v) => v.replace(/\s+/g, ' ').trim()),
        ['1.1.0 latest', '1.1.0 latest', '1.0.0'],
      );
      const text = await page.locator('main').innerText();
      assert.match(text, /linux\/aarch64/);
      // The server serves the development CA's certificate: the commands name the CA's file.
      const ca = f.server.caFile;
      assert.ok(text.includes(`sudo SSL_CERT_FILE=${ca} rkt trust --prefix localhost/team\n`), text);
      assert.ok(text.includes(`sudo SSL_CERT_FILE=${ca} rkt fetch localhost/team/app:1.1.0`));
      assert.ok(text.includes(`curl --cacert ${ca} --fail-with-body -H "Authorization: Bearer $TOKEN"`));
      assert.match(text, new RegExp(f.key.fingerprint));
      await page.screenshot({ path: join(OUTPUT, 'web-page-wide.png'), fullPage: true });

      await page.getByRole('link', { name: 'team', exact: true }).click();
      assert.equal(new URL(page.url()).pathname, '/team');
      await page.getByRole('link', { name: 'localhost/team/app' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('fits a phone screen: nothing but the tables and commands scrolls sideways', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    try {
      const page = await context.newPage();
      await page.goto(`${f.server.origin}/team/app`);
      const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
      await page.screenshot({ path: join(OUTPUT, 'web-page-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  for (const [label, width, height] of [
    ['wide', 1280, 900],
    ['phone', 390, 844],
  ] as const) {
    it(`keeps long names, versions and commands within a ${label} screen (${width}px)`, async () => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height }, deviceScaleFactor: 2 });
      try {
        const page = await context.newPage();
        for (const [path, shot] of [
          [`/${LONG_NAME.slice('localhost/'.length)}`, 'long-name'],
          ['/', 'root'],
        ] as const) {
          assert.equal((await page.goto(`${f.server.origin}${path}`))?.status(), 200, path);
          await page.screenshot({ path: join(OUTPUT, `web-page-${shot}-${label}.png`), fullPage: true });
          const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
          assert.ok(overflow <= 0, `${path}: the page is ${overflow}px wider than the screen`);
          assert.deepEqual(await outsideViewport(page), [], `${path}: elements outside the screen`);
        }
        // Every value of the long version's row is on screen, not only in the markup.
        await page.goto(`${f.server.origin}/${LONG_NAME.slice('localhost/'.length)}`);
        const row = page.getByRole('row').filter({ hasText: LONG_VERSION.slice(0, 20) });
        const cells = await row.getByRole('rowheader').or(row.getByRole('cell')).all();
        assert.equal(cells.length, 7, 'the row keeps its table roles and all seven cells');
        for (const cell of cells) {
          const box = (await cell.boundingBox())!;
          assert.ok(box.x >= 0 && box.x + box.width <= width + 0.5, `a cell spans ${box.x}..${box.x + box.width}`);
        }
      } finally {
        await context.close();
      }
    });
  }
});
