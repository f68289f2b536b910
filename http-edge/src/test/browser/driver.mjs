// Drives a headless Chromium for the Java tests (sluice.edge.BrowserDriver): one JSON command per line on stdin, one
// JSON answer per line on stdout ({"ok": true, "value": ...} or {"ok": false, "error": "..."}). The browser is Debian's
// chromium (CHROMIUM, default /usr/bin/chromium): playwright-core never downloads one.
//
// Commands: {"cmd": "goto", "url"} | {"cmd": "fill", "selector", "text"} | {"cmd": "click", "selector"}
//   | {"cmd": "text", "selector"} (text of the first match, null if none) | {"cmd": "count", "selector"}
//   | {"cmd": "wait", "selector", "timeoutMs"?} (until visible) | {"cmd": "eval", "expression"} (its JSON value)
//   | {"cmd": "loads"} (main-frame loads since start: a reload counts) | {"cmd": "screenshot", "path"}
//   | {"cmd": "console"} (the page's console errors and failed requests so far) | {"cmd": "quit"}
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(15000);
let loads = 0;
const problems = [];
page.on('load', () => { loads++; });
page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
page.on('pageerror', (e) => problems.push('page error: ' + e.message));

async function run(c) {
  switch (c.cmd) {
    case 'goto': await page.goto(c.url, { waitUntil: 'load' }); return page.url();
    case 'fill': await page.fill(c.selector, c.text); return null;
    case 'click': await page.click(c.selector); return null;
    case 'text': {
      const first = page.locator(c.selector).first();
      return (await first.count()) === 0 ? null : await first.textContent();
    }
    case 'count': return await page.locator(c.selector).count();
    case 'wait': await page.waitForSelector(c.selector, { state: 'visible', timeout: c.timeoutMs || 15000 }); return null;
    case 'eval': return await page.evaluate(c.expression);
    case 'loads': return loads;
    case 'screenshot': await page.screenshot({ path: c.path, fullPage: true }); return c.path;
    case 'console': return problems.slice();
    case 'quit': await browser.close(); process.exit(0);
    default: throw new Error('unknown command ' + c.cmd);
  }
}

console.log(JSON.stringify({ ok: true, value: 'ready ' + browser.version() }));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { ok: true, value: await run(JSON.parse(line)) };
  } catch (e) {
    // The first lines: no colour codes, no browser log (the Java side prints it in a failure message).
    const text = String((e && e.message) || e).replace(/\u001b\[[0-9;]*m/g, '').split('\nBrowser logs:')[0];
    answer = { ok: false, error: text.slice(0, 2000) };
  }
  console.log(JSON.stringify(answer));
}
await browser.close();
