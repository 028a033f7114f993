// The Evaluate tab (perplexity) in real headless Chromium. The test Loadstone starts without the
// evaluation bundle and without llama.cpp: the tab says to install io.loadstone.evaluation; dropping
// the llama.cpp loader (with its runtime, natives and native fragment) and the evaluation bundle into
// plugins/ brings it to life without a restart. With the starter model stories260K.gguf loaded: a long
// evaluation shows its progress bar and is cancelled, a short one ends with a result line and a row
// in the history table, asking again shows the logged result marked "from log", two models picked in the
// multi-select are evaluated in turn (the one not loaded is loaded first; two rows), and the tab fits
// 1280x800 and 390x844 (a screenshot of each).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SCREENSHOTS, dropPlugin, startLoadstone, until, waitForText } from '../support/loadstone.mjs';

const skip = process.env.LOADSTONE_NO_CHROMIUM || (process.env.LOADSTONE_CHROMIUM ? false
  : fs.existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (run run-tests.sh, which installs it)');
const CHROMIUM = process.env.LOADSTONE_CHROMIUM || '/usr/bin/chromium';
const TARGET = process.env.LOADSTONE_TARGET || path.resolve('target');
const BUNDLES = process.env.LOADSTONE_TEST_BUNDLES || path.join(TARGET, 'test-bundles');
// What a user drops into plugins/ for llama.cpp: the loader, its runtime and natives, the platform fragment.
const LLAMA_JARS = ['sampling.jar', 'natives.jar', 'llamacpp.jar', 'llamacpp-linux-x86_64.jar', 'loader-llamacpp.jar'];

const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. '
  + 'One day, she saw a big, red ball in the park. She wanted to play with it, but it was too high in the tree. '
  + 'Lily asked her mom for help. They found a long stick and tried to reach the ball. After a few tries, the ball '
  + 'fell down. Lily was very happy. She played with the ball all day long. When it was time to go home, Lily said '
  + 'thank you to her mom. They walked home together, holding hands and smiling.\n';

describe('Evaluate tab in Chromium', { skip: skip || (process.arch !== 'x64' || process.platform !== 'linux'
  ? 'the llama.cpp fragment copied here is linux-x86_64' : false) }, () => {
  let srv;
  let browser;
  let page;
  const errors = [];

  const shot = async (name) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
  };
  const waitText = (sel, want, timeout = 30000) => waitForText(page, sel, want, timeout);
  const drop = (jar) => dropPlugin(srv.home, path.join(BUNDLES, jar));

  before(async () => {
    srv = await startLoadstone('evaluate');
    fs.copyFileSync(path.join(BUNDLES, 'stories260K.gguf'), path.join(srv.home, 'models', 'stories260K.gguf'));
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = browser.pages()[0] || await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
    await page.goto(srv.base + '#evaluate');
    await waitText('#conn', 'live');
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
  });

  test('without the evaluation bundle the tab says to install it; dropping it and llama.cpp into plugins/ enables it', async () => {
    await waitText('#eval-status', 'io.loadstone.evaluation');
    assert.equal(await page.isDisabled('#eval-start'), true);
    await waitText('#eval-model', 'No model is loaded');
    for (const jar of LLAMA_JARS) drop(jar);
    await until('the llama.cpp loader in plugins/', async () => {
      const r = await srv.api('ui/api/state');
      return r.json && r.json.loaders.some((l) => l.id === 'llama.cpp');
    }, 60000);
    drop('evaluation.jar');
    await page.waitForFunction(() => !document.querySelector('#eval-dataset').disabled, null, { timeout: 30000 });
    assert.equal(await page.textContent('#eval-status'), '', 'the install hint is gone');
    assert.notEqual(await page.textContent('#eval-datasets-dir'), '–', 'the datasets folder is shown');
  });

  test('with the starter model loaded: a long evaluation shows its progress bar and Cancel stops it', async () => {
    await srv.api('ui/api/models/refresh', {});
    const load = await srv.api('ui/api/load', { model: 'stories260K.gguf', loader: 'llama.cpp', options: { n_ctx: 256, threads: 2 } });
    assert.equal(load.status, 200, load.text);
    await waitText('#eval-model', 'Model: stories260K.gguf (llama.cpp');
    assert.equal(await page.isDisabled('#eval-start'), false);
    // Stride 1 over full-context windows: thousands of model calls, long enough to watch and cancel.
    await page.fill('#eval-text', STORY.repeat(12));
    await page.fill('#eval-stride', '1');
    await page.fill('#eval-max-length', '0');
    await page.click('#eval-start');
    await page.waitForFunction(() => {
      const bar = document.querySelector('#eval-job .job.running .bar');
      return bar && Number(bar.getAttribute('aria-valuenow')) > 0
        && / windows · /.test(document.querySelector('#eval-job .job.running .meta').textContent);
    }, null, { timeout: 30000 });
    assert.equal(await page.isDisabled('#eval-start'), true, 'one evaluation at a time');
    await shot('evaluate-running-1280');
    await page.click('#eval-cancel');
    await page.waitForSelector('#eval-job .job.cancelled', { timeout: 30000 });
    await waitText('#eval-status', 'Cancelled the evaluation of stories260K.gguf');
    assert.equal(await page.isDisabled('#eval-start'), false);
  });

  test('a dataset from the datasets folder: the result line and a row in the history table', async () => {
    const ov = await srv.api('ui/api/evaluation');
    fs.mkdirSync(ov.json.datasetsDir, { recursive: true });
    fs.writeFileSync(path.join(ov.json.datasetsDir, 'lily.txt'), STORY.repeat(3));
    await page.click('#eval-refresh');
    await page.waitForSelector('#eval-dataset option[value="lily.txt"]', { state: 'attached' });
    await page.selectOption('#eval-dataset', 'lily.txt');
    await page.fill('#eval-text', '');
    await page.fill('#eval-stride', '64');
    await page.fill('#eval-max-length', '128');
    await page.fill('#eval-comment', 'browser test');
    await page.click('#eval-start');
    await page.waitForSelector('#eval-job .job.done', { timeout: 60000 });
    await waitText('#eval-status', 'Perplexity ');
    assert.match(await page.textContent('#eval-status'), /Perplexity \d+\.\d{4} for stories260K\.gguf on lily\.txt/);
    assert.equal(await page.getAttribute('#eval-job .job.done .bar', 'aria-valuenow'), '100');
    await page.waitForSelector('#eval-history tbody tr', { timeout: 20000 });
    const row = await page.$$eval('#eval-history tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
    assert.equal(row[0], 'stories260K.gguf');
    assert.equal(row[1], 'lily.txt');
    assert.match(row[2], /^\d+\.\d{4}$/);
    assert.equal(row[3], 'windows');
    assert.deepEqual(row.slice(4, 6), ['64', '128']);
    assert.match(row[6], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.equal(row[7], 'browser test');
    await page.waitForTimeout(400); // the bar's width transition
    await shot('evaluate-1280');
  });

  test('asking again answers from the log, marked in the table', async () => {
    await page.click('#eval-start');
    await page.waitForSelector('#eval-history tbody tr .from-log', { timeout: 30000 });
    await waitText('#eval-status', 'From the log');
  });

  test('bad input: the server\'s message on the status line', async () => {
    await page.fill('#eval-stride', '0');
    await page.click('#eval-start');
    await page.waitForSelector('#eval-status.error', { timeout: 20000 });
    assert.match(await page.textContent('#eval-status'), /stride/);
    await page.fill('#eval-stride', '64');
  });

  test('a refusal from the evaluator: its message and its fix in the tab', async () => {
    await page.fill('#eval-max-length', '1000');
    await page.click('#eval-start');
    await page.waitForSelector('#eval-job .job.failed', { timeout: 20000 });
    await page.waitForSelector('#eval-status.error');
    const msg = await page.textContent('#eval-status');
    assert.match(msg, /max_length 1000 is more than the context length 256/);
    assert.match(msg, /Use max_length 256 or less/);
    await page.fill('#eval-max-length', '128');
  });

  test('two models from the multi-select: evaluated in turn (the one not loaded is loaded), two result rows', async () => {
    // A second model: the starter model under another name, not loaded, on llama.cpp by its settings.
    fs.copyFileSync(path.join(BUNDLES, 'stories260K.gguf'), path.join(srv.home, 'models', 'stories260K-copy.gguf'));
    await srv.api('ui/api/models/refresh', {});
    await page.evaluate(() => refreshAll());
    await page.waitForSelector('#eval-models option[value="stories260K-copy.gguf"]', { state: 'attached', timeout: 20000 });
    assert.equal(await page.isDisabled('#eval-start-selected'), true, 'nothing selected yet');
    await page.selectOption('#eval-models', ['stories260K.gguf', 'stories260K-copy.gguf']);
    assert.equal(await page.isDisabled('#eval-start-selected'), false);
    await page.selectOption('#eval-dataset', 'lily.txt');
    await page.fill('#eval-stride', '32');
    await page.fill('#eval-max-length', '128');
    await page.fill('#eval-comment', 'two models');
    await page.click('#eval-start-selected');
    await page.waitForSelector('#eval-job .job.done', { timeout: 60000 });
    await waitText('#eval-job .job.done .name', '2 models on lily.txt');
    await waitText('#eval-job .job.done .meta', '2 of 2 models evaluated');
    await waitText('#eval-status', 'Evaluated 2 of 2 models');
    await page.waitForFunction(() => [...document.querySelectorAll('#eval-history tbody tr')]
      .filter((tr) => tr.lastChild.textContent === 'two models').length === 2, null, { timeout: 20000 });
    const rows = await page.$$eval('#eval-history tbody tr', (trs) => trs.map((tr) => [...tr.children].map((t) => t.textContent))
      .filter((r) => r[7] === 'two models'));
    assert.deepEqual(rows.map((r) => r[0]).sort(), ['stories260K-copy.gguf', 'stories260K.gguf']);
    for (const r of rows) {
      assert.match(r[2], /^\d+\.\d{4}$/);
      assert.deepEqual(r.slice(4, 6), ['32', '128']);
    }
    // Evaluated in the list's order; the last one stays loaded (the memory budget may have let the first go).
    const order = await page.$$eval('#eval-models option:checked', (os) => os.map((o) => o.value));
    const st = await srv.api('ui/api/state');
    assert.ok(st.json.loaded.some((m) => m.name === order[order.length - 1]), 'the last model stays loaded: '
      + JSON.stringify(st.json.loaded.map((m) => m.name)));
    await shot('evaluate-two-models-1280');
  });

  test('phone width: the tab fits the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'Evaluate tab is ' + overflow + ' px wider than the screen');
    await shot('evaluate-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('no script errors on the page', () => {
    assert.deepEqual(errors, []);
  });
});
