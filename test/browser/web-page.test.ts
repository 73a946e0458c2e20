/**
 * The page as a person sees it: Debian's headless Chromium, driven by playwright-core,
 * loads the page after a push with JavaScript off, finds the image, its versions and
 * the commands, and saves screenshots (wide and phone) under test-output/ (gitignored).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { createFixture, type Fixture } from '../helpers/fixture.ts';

// /usr/lib/chromium/chromium avoids the /usr/bin/chromium wrapper's warning (toolchain.md).
const CHROMIUM = '/usr/lib/chromium/chromium';
const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;

describe('the page in a real browser', () => {
  let f: Fixture;
  let browser: Browser;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    // playwright gives each launch a fresh temporary profile (the --user-data-dir that toolchain.md asks for).
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
      assert.match(text, /sudo rkt trust --prefix localhost\/team\/app/);
      assert.match(text, /sudo rkt fetch localhost\/team\/app:1\.1\.0/);
      assert.match(text, /curl --fail-with-body -H "Authorization: Bearer \$TOKEN"/);
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
});
