// Browser tests of the dashboard against a running `symbiont serve --demo` (scripts/web-test
// starts one): playwright-core drives Debian's chromium, headless, WebGL by SwiftShader.
//
//   BASE_URL=http://127.0.0.1:PORT PLAYWRIGHT_HOME=<dir with node_modules/playwright-core> \
//   SCREENSHOTS=<dir> node --test dashboard.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';

const { chromium } = createRequire(`${process.env.PLAYWRIGHT_HOME}/package.json`)('playwright-core');
const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS || 'screenshots';
const DEMO = { email: 'demo@symbiont.example', password: 'symbiont-demo' };
mkdirSync(SHOTS, { recursive: true });

let browser;
let signedIn; // the demo user's page, 1280×720
let observer; // a second browser context, not signed in
const problems = [];

/** A page that records console errors, failed requests and uncaught exceptions. */
async function openPage(context, path = '/') {
  const page = await context.newPage();
  // The browser logs every 4xx answer; the flow form's 422 is one the tests ask for.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 422/.test(m.text())) problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => { if (!r.url().includes('/api/v1/ws')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  await page.goto(`${BASE}${path}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30000 });
  await page.waitForFunction(() => document.body.dataset.live === 'on', null, { timeout: 10000 });
  return page;
}

/** Pixels of a screenshot of the map whose colour is near one of `colours` (#rrggbb). */
async function pixelsNear(page, colours) {
  const png = await page.locator('#map').screenshot();
  return page.evaluate(async ({ data, colours }) => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(image, 0, 0);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const rgb = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
    let count = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (rgb.some(([r, g, b]) => Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 60)) count += 1;
    }
    return count;
  }, { data: png.toString('base64'), colours });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
});

after(async () => {
  await browser?.close();
});

test('the demo region renders with its sites and match lines, offline', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  // Nothing but the server itself may be reached.
  await context.route((url) => !url.href.startsWith(BASE) && !url.href.startsWith(BASE.replace('http', 'ws')) && !url.href.startsWith('blob:') && !url.href.startsWith('data:'), (route) => {
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  signedIn = await openPage(context);
  const figures = await signedIn.evaluate(() => ({ drawn: window.symbiont.drawnMatches, sites: window.symbiont.sitesShown, firstRenderMs: window.symbiont.firstRenderMs }));
  console.log(`# first render of the demo region: ${figures.firstRenderMs} ms; ${figures.sites} sites, ${figures.drawn} match lines`);
  assert.ok(figures.sites > 100, `sites loaded: ${figures.sites}`);
  assert.ok(figures.drawn > 50, `match lines drawn: ${figures.drawn}`);
  // The lines are on the screen, not only in the DOM: pixels in the score colours.
  const linePixels = await pixelsNear(signedIn, ['#d95f02', '#7570b3', '#1b9e77']);
  assert.ok(linePixels > 500, `pixels of match lines on the map: ${linePixels}`);
  assert.deepEqual(problems, []);
});

test('signing in shows who is signed in', async () => {
  await signedIn.fill('#signin-email', DEMO.email);
  await signedIn.fill('#signin-password', DEMO.password);
  await signedIn.press('#signin-password', 'Enter');
  await signedIn.waitForSelector('#signedin:not([hidden])');
  assert.equal(await signedIn.textContent('#whoami'), DEMO.email);
  await signedIn.waitForFunction(() => document.body.dataset.live === 'on');
  await signedIn.screenshot({ path: `${SHOTS}/dashboard.png` });
});

let matchId;
let ownBusiness;

test('a match is opened and moved to contacted; a second session sees it live', async () => {
  // One of the demo user's businesses, through the business search.
  const business = await signedIn.evaluate(() => {
    const { state } = window.symbiont;
    const owned = state.me.memberships.map((m) => m.business_id);
    return owned.map((id) => state.businesses.get(id)).find(Boolean);
  });
  assert.ok(business, 'the demo user owns a business');
  ownBusiness = business;
  await signedIn.fill('#f-search', business.name);
  await signedIn.press('#f-search', 'Enter');
  await signedIn.locator('#f-search').dispatchEvent('change');
  await signedIn.waitForSelector(`#detail-body h2:text-is("${business.name}")`);
  const suggested = signedIn.locator('#detail-body .match-item', { hasText: 'Suggested' }).first();
  await suggested.click();
  await signedIn.waitForSelector('#match-status');
  matchId = new URL(signedIn.url()).hash.split('=')[1];
  assert.match(matchId, /^[0-9a-f-]{36}$/);
  assert.equal(await signedIn.textContent('#match-status'), 'Suggested');

  // A second browser session, not signed in, on the same match.
  const other = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  observer = await openPage(other, `/#match=${matchId}`);
  await observer.waitForSelector('#match-status');
  assert.equal(await observer.textContent('#match-status'), 'Suggested');
  assert.match(await observer.textContent('#lifecycle-message'), /Sign in/);

  await signedIn.fill('#lifecycle-note', 'Called their energy manager');
  const clicked = Date.now();
  await signedIn.click('button[data-status="contacted"]');
  await signedIn.waitForFunction(() => document.querySelector('#match-status')?.textContent === 'Contacted');
  await observer.waitForFunction(() => document.querySelector('#match-status')?.textContent === 'Contacted', null, { timeout: 5000 });
  console.log(`# the second session showed the change ${Date.now() - clicked} ms after the click`);
  await observer.screenshot({ path: `${SHOTS}/second-session-live.png` });
  assert.ok(await signedIn.isVisible('button[data-status="negotiating"]'));
  assert.deepEqual(problems, []);
});

test('a flow registered through the form shows the API validation error next to the field, then a new match line live', async () => {
  await signedIn.click('#detail-back');
  await signedIn.fill('#f-search', '');
  await signedIn.locator('#f-search').dispatchEvent('change');
  await signedIn.click('#tab-register');
  await signedIn.waitForSelector('#form-flow:not([hidden])');
  const siteCount = await signedIn.locator('#fl-site option').count();
  assert.ok(siteCount > 0, 'the demo user has sites to add a flow to');
  // The site of the business whose matches were just seen: paper and cardboard find takers there.
  const site = await signedIn.locator('#fl-site option', { hasText: ownBusiness.name }).first().getAttribute('value');
  await signedIn.selectOption('#fl-site', site);
  await signedIn.selectOption('#fl-direction', 'offer');
  await signedIn.selectOption('#fl-category', 'material.paper_cardboard');
  await signedIn.fill('#fl-value', '40');
  await signedIn.fill('#fl-unit', 'MW'); // power is not a mass: the API names the unit's field
  await signedIn.click('#form-flow button[type=submit]');
  const error = signedIn.locator('[id="fl-quantity.unit-error"], [id="fl-quantity-error"]').filter({ hasText: /\S/ });
  await error.first().waitFor();
  const message = await error.first().textContent();
  assert.ok(message.length > 3, `error next to the quantity: ${message}`);
  assert.equal(await signedIn.getAttribute('#fl-unit', 'aria-invalid'), 'true');
  await signedIn.locator('#form-flow').screenshot({ path: `${SHOTS}/flow-form-error.png` });

  const before = await signedIn.evaluate(() => window.symbiont.state.matches.size);
  await signedIn.fill('#fl-unit', 't/year');
  await signedIn.click('#form-flow button[type=submit]');
  await signedIn.waitForSelector('#form-flow .form-status:text-matches("Created flow")');
  const created = (await signedIn.textContent('#form-flow .form-status')).match(/\(([0-9a-f-]{36})\)/)[1];
  const written = Date.now();
  // The engine proposes the new offer's matches; the feed brings them and they are drawn as lines.
  await signedIn.waitForFunction(
    (id) => [...window.symbiont.state.matches.values()].some((m) => m.offer_flow_id === id && window.symbiont.drawnIds.has(m.id)),
    created,
    { timeout: 5000 },
  );
  console.log(`# the new flow's first match was on the map ${Date.now() - written} ms after the write's answer (matches ${before} before)`);
  assert.deepEqual(problems, []);
});

test('an anonymous offer reaches a stranger\'s map as a line to the centre of its grid cell, with no id of its owner', async () => {
  await signedIn.click('#tab-register');
  await signedIn.waitForSelector('#form-flow:not([hidden])');
  const site = await signedIn.locator('#fl-site option', { hasText: ownBusiness.name }).first().getAttribute('value');
  await signedIn.selectOption('#fl-site', site);
  await signedIn.selectOption('#fl-direction', 'offer');
  await signedIn.selectOption('#fl-category', 'material.paper_cardboard');
  await signedIn.fill('#fl-value', '25');
  await signedIn.fill('#fl-unit', 't/year');
  await signedIn.check('#fl-anonymous');
  await signedIn.click('#form-flow button[type=submit]');
  await signedIn.waitForSelector('#form-flow .form-status:text-matches("Created flow")');
  const created = (await signedIn.textContent('#form-flow .form-status')).match(/\(([0-9a-f-]{36})\)/)[1];
  await signedIn.uncheck('#fl-anonymous');
  // The observer (not signed in) gets the redacted matches from the feed and their lines from
  // GET /map/matches: the hidden offer's end is its cell's centre, not the site.
  const line = await observer.waitForFunction(() => {
    const { state } = window.symbiont;
    const m = [...state.matches.values()].find((x) => x.offer_place === 'cell' && window.symbiont.drawnIds?.has(x.id));
    return m ? { match: m, ends: state.lines.get(m.id) } : null;
  }, null, { timeout: 5000 }).then((h) => h.jsonValue());
  assert.deepEqual(line.match.redacted, ['offer']);
  assert.equal(line.match.offer_business_id ?? null, null);
  assert.equal(line.match.offer_flow_id ?? null, null);
  const site_ = await signedIn.evaluate((id) => window.symbiont.state.sites.get(id)?.coordinates, site);
  assert.notDeepEqual(line.ends[0], site_, 'the hidden end is not the exact site');
  const observed = JSON.stringify(await observer.evaluate(() => [...window.symbiont.state.matches.values()]));
  assert.ok(!observed.includes(created), 'the anonymous flow\'s id is nowhere in the stranger\'s state');
  assert.deepEqual(problems, []);
});

test('the region tab shows the totals and the chart, and exports the ESG summary as CSV', async () => {
  await signedIn.click('#tab-region');
  await signedIn.waitForFunction(() => /flows you may see/.test(document.querySelector('#flows-chart-note').textContent), null, { timeout: 30000 });
  assert.match(await signedIn.textContent('#kpis'), /Potential savings/);
  assert.ok((await signedIn.locator('#flows-table tbody tr').count()) >= 3, 'flows by family');
  const [download] = await Promise.all([signedIn.waitForEvent('download'), signedIn.click('#export-csv')]);
  assert.equal(download.suggestedFilename(), 'symbiont-esg-summary.csv');
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  assert.match(csv, /^section,item,value,unit\r\n/);
  assert.match(csv, /potential,savings,\d+,EUR\/year/);
  assert.match(csv, /matches by status,contacted,[1-9]/);
  await signedIn.screenshot({ path: `${SHOTS}/region.png` });
  assert.deepEqual(problems, []);
});

test('a phone-sized screen shows the map above the panels', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await openPage(phone);
  const map = await page.locator('#map').boundingBox();
  const panel = await page.locator('#panel').boundingBox();
  assert.ok(map.width <= 390 && panel.y >= map.y + map.height - 1, 'the panel is below the map');
  await page.screenshot({ path: `${SHOTS}/dashboard-phone.png` });
  assert.deepEqual(problems, []);
});
