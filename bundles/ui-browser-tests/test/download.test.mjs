// The Model tab's "Download model or LoRA" box in real headless Chromium, against a fake Hugging Face
// Hub on 127.0.0.1 (HF_ENDPOINT). The test Loadstone starts without the download bundle: the box says
// to install it; dropping download.jar into plugins/ brings it to life without a restart. Then: file
// list with sizes, a click on a GGUF fills the file name, the GGUF choice, a download whose progress
// ends in the model list, and a missing repo's error on the status line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SCREENSHOTS, dropPlugin, startLoadstone, waitForText } from '../support/loadstone.mjs';

const skip = process.env.LOADSTONE_NO_CHROMIUM || (process.env.LOADSTONE_CHROMIUM ? false
  : fs.existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (run run-tests.sh, which installs it)');
const CHROMIUM = process.env.LOADSTONE_CHROMIUM || '/usr/bin/chromium';
const TARGET = process.env.LOADSTONE_TARGET || path.resolve('target');
const DOWNLOAD_JAR = path.join(process.env.LOADSTONE_TEST_BUNDLES || path.join(TARGET, 'test-bundles'), 'download.jar');

// What the fake Hub serves. The echo test loader picks up any folder holding echo-model.txt.
const ECHO_TEXT = 'a downloaded echo model says hello';
const GGUF_A = Buffer.alloc(3000, 1);
const GGUF_B = Buffer.alloc(5000, 2);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
// Served in 64 KiB pieces 50 ms apart (about 4 s): long enough to watch the bar move and press Cancel.
const SLOW = crypto.randomBytes(5 << 20);
const REPOS = {
  'tiny/slow-GGUF': { 'slow.gguf': { bytes: SLOW, lfs: true, slow: true } },
  'tiny/echo': { 'echo-model.txt': { bytes: Buffer.from(ECHO_TEXT) }, 'README.md': { bytes: Buffer.from('# echo\n') } },
  'tiny/two-GGUF': { 'model-a.Q4.gguf': { bytes: GGUF_A, lfs: true }, 'model-b.Q8.gguf': { bytes: GGUF_B, lfs: true } },
};

function startHub() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let m = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/main$/);
    if (m && REPOS[m[1]]) {
      const list = Object.entries(REPOS[m[1]]).map(([p, f]) => ({
        type: 'file', path: p, size: f.bytes.length, ...(f.lfs ? { lfs: { oid: sha(f.bytes), size: f.bytes.length } } : {}),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(list));
    }
    m = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/);
    const f = m && REPOS[m[1]] && REPOS[m[1]][decodeURIComponent(m[2])];
    if (f && f.slow && req.method !== 'HEAD') {
      res.writeHead(200, { 'Content-Length': f.bytes.length });
      let off = 0;
      const timer = setInterval(() => {
        if (res.destroyed || off >= f.bytes.length) { clearInterval(timer); res.end(); return; }
        res.write(f.bytes.subarray(off, off + (64 << 10)));
        off += 64 << 10;
      }, 50);
      res.on('close', () => clearInterval(timer));
      return undefined;
    }
    if (f) {
      res.writeHead(200, { 'Content-Length': f.bytes.length });
      return res.end(req.method === 'HEAD' ? undefined : f.bytes);
    }
    res.writeHead(404, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'application/json' });
    res.end('{"error":"Repository not found"}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('download box in Chromium', { skip }, () => {
  let hub;
  let srv;
  let browser;
  let page;
  const errors = [];

  const shot = async (name) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
  };
  const waitText = (sel, want, timeout = 20000) => waitForText(page, sel, want, timeout);

  before(async () => {
    hub = await startHub();
    // The Loadstone child inherits this; HF_ENDPOINT wins over the downloader's configured endpoint.
    const saved = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = 'http://127.0.0.1:' + hub.address().port;
    try {
      srv = await startLoadstone('download');
    } finally {
      if (saved === undefined) delete process.env.HF_ENDPOINT; else process.env.HF_ENDPOINT = saved;
    }
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = browser.pages()[0] || await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
    await page.goto(srv.base);
    await waitText('#conn', 'live');
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
    if (hub) hub.close();
  });

  test('without the download bundle the box says to install it; dropping it into plugins/ enables it', async () => {
    await waitText('#download-status', 'install');
    assert.equal(await page.isDisabled('#download-start'), true);
    assert.equal(await page.isDisabled('#download-list'), true);
    // Copied beside plugins/ and renamed in, so File Install never sees a half-written jar (it would
    // install it, then update and refresh it, restarting the UI bundle that is wired to it).
    dropPlugin(srv.home, DOWNLOAD_JAR);
    await page.waitForFunction(() => !document.querySelector('#download-start').disabled, null, { timeout: 30000 });
    assert.equal(await page.isDisabled('#download-list'), false);
  });

  test('Get file list shows sizes; clicking a GGUF fills the file name', async () => {
    await page.fill('#download-repo', 'tiny/two-GGUF');
    await page.click('#download-list');
    await waitText('#download-status', '2 files in tiny/two-GGUF');
    const rows = await page.$$eval('#download-files li', (ls) => ls.map((l) => l.textContent));
    assert.deepEqual(rows, ['model-a.Q4.gguf3.00 kB', 'model-b.Q8.gguf5.00 kB']);
    await page.click('#download-files button:has-text("model-b.Q8.gguf")');
    assert.equal(await page.inputValue('#download-file'), 'model-b.Q8.gguf');
    await shot('download-file-list-1280');
  });

  test('a GGUF repo without a file name asks which one, listing both', async () => {
    await page.fill('#download-file', '');
    await page.click('#download-start');
    await waitText('#download-status', 'offers 2 GGUF models');
    assert.equal(await page.locator('#download-files li').count(), 2);
  });

  test('Download: progress ends done, the file is in models/, and the model list has it', async () => {
    await page.fill('#download-repo', 'tiny/echo');
    await page.fill('#download-file', '');
    await page.click('#download-start');
    await page.waitForSelector('#download-jobs .job.done', { timeout: 30000 });
    assert.match(await page.textContent('#download-jobs .job.done .name'), /tiny\/echo/);
    assert.equal(await page.getAttribute('#download-jobs .job.done .bar', 'aria-valuenow'), '100');
    await waitText('#download-status', 'Downloaded tiny/echo');
    assert.equal(fs.readFileSync(path.join(srv.home, 'models', 'tiny_echo', 'echo-model.txt'), 'utf8'), ECHO_TEXT);
    await page.waitForSelector('#model-select option[value="tiny_echo"]', { state: 'attached', timeout: 20000 });
    await shot('download-done-1280');
  });

  test('a running download shows percent, MB/s and ETA; Cancel stops it and no model appears', async () => {
    await page.fill('#download-repo', 'tiny/slow-GGUF');
    await page.fill('#download-file', '');
    await page.click('#download-start');
    await page.waitForFunction(() => {
      const m = document.querySelector('#download-jobs .job.running .meta');
      return m && / %/.test(m.textContent) && /MB\/s/.test(m.textContent) && /left/.test(m.textContent)
        && Number(document.querySelector('#download-jobs .job.running .bar').getAttribute('aria-valuenow')) > 0;
    }, null, { timeout: 20000 });
    await shot('download-running-1280');
    await page.click('#download-jobs .job.running button:has-text("Cancel")');
    await page.waitForSelector('#download-jobs .job.cancelled', { timeout: 20000 });
    await waitText('#download-status', 'Cancelled tiny/slow-GGUF');
    assert.equal(fs.existsSync(path.join(srv.home, 'models', 'slow.gguf')), false);
  });

  test('a missing repo: the status line names it', async () => {
    await page.fill('#download-repo', 'tiny/missing');
    await page.click('#download-list');
    await page.waitForSelector('#download-status.error');
    assert.match(await page.textContent('#download-status'), /tiny\/missing/);
  });

  test('phone width: the box fits the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'Model tab is ' + overflow + ' px wider than the screen');
    await page.locator('#download-box').scrollIntoViewIfNeeded();
    await shot('download-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('no script errors on the page', () => {
    assert.deepEqual(errors, []);
  });
});
