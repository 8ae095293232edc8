// Measures the dashboard's first render (navigation start to the map idle with its sites and
// match lines drawn) in headless chromium, a few times in a fresh browser context each.
//
//   BASE_URL=… PLAYWRIGHT_HOME=… node first-render.mjs [RUNS]

import { createRequire } from 'node:module';

const { chromium } = createRequire(`${process.env.PLAYWRIGHT_HOME}/package.json`)('playwright-core');
const runs = Number(process.argv[2] || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
const times = [];
let figures = null;
for (let i = 0; i < runs; i += 1) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  await page.goto(process.env.BASE_URL);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60000 });
  figures = await page.evaluate(() => ({
    ready: document.body.dataset.ready,
    ms: window.symbiont.firstRenderMs,
    sites: window.symbiont.sitesShown,
    matches: window.symbiont.state.matches.size,
    drawn: window.symbiont.drawnMatches,
    marks: window.symbiont.marks,
  }));
  if (figures.ready !== 'true') throw new Error('the dashboard did not start');
  times.push(figures.ms);
  await context.close();
}
await browser.close();
times.sort((a, b) => a - b);
console.log(JSON.stringify({ runs, median_ms: times[Math.floor(times.length / 2)], min_ms: times[0], max_ms: times[times.length - 1], sites: figures.sites, matches: figures.matches, lines: figures.drawn, marks: figures.marks }));
