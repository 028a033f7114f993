// What a new user sees in the first hour, in headless Chromium: after Load the status says the model
// is loaded (a model it unloaded to make room is a note, never the headline) and the starter model
// loads without llama.cpp's informational lines; a loader that cannot load the selected model says
// why in the menu and its note and Load is off; options with no effect here are folded away; a phone
// has the model picker and Load/Unload/Reload/Save on its first screen with 40 px tap targets; the
// Generate tab refuses an empty prompt and says when the context is full.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SCREENSHOTS, dropPlugin, startLoadstone, until, waitForText } from '../support/loadstone.mjs';

const CHROMIUM = process.env.LOADSTONE_CHROMIUM || '/usr/bin/chromium';
const TARGET = process.env.LOADSTONE_TARGET || path.resolve('target');
const BUNDLES = process.env.LOADSTONE_TEST_BUNDLES || path.join(TARGET, 'test-bundles');
const JARS = ['sampling.jar', 'natives.jar', 'llamacpp.jar', 'llamacpp-linux-x86_64.jar', 'loader-llamacpp.jar',
  'tokenizer.jar', 'tokenizers-linux-x86_64.jar', 'loader-llamacpp-hf.jar'];
const GGUF = 'stories260K.gguf';

const skip = process.env.LOADSTONE_NO_CHROMIUM || (process.env.LOADSTONE_CHROMIUM ? false
  : fs.existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (run run-tests.sh, which installs it)')
  || (process.arch !== 'x64' || process.platform !== 'linux' ? 'the native fragments copied here are linux-x86_64' : false);

describe('first hour in Chromium', { skip }, () => {
  let srv;
  let browser;
  let page;
  const errors = [];
  const waitText = (p, sel, want, timeout = 30000) => waitForText(p, sel, want, timeout);
  const text = (p, sel) => p.locator(sel).first().textContent();
  const shot = async (p, name) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
  };
  const launch = () => chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });

  before(async () => {
    srv = await startLoadstone('first-hour');
    fs.copyFileSync(path.join(BUNDLES, GGUF), path.join(srv.home, 'models', GGUF));
    for (const jar of JARS) dropPlugin(srv.home, path.join(BUNDLES, jar));
    await until('llama.cpp and llamacpp_HF in plugins/', async () => {
      const r = await srv.api('ui/api/state');
      return r.json && ['llama.cpp', 'llamacpp_HF'].every((id) => r.json.loaders.some((l) => l.id === id));
    }, 90000);
    browser = await launch();
    page = browser.pages()[0] || await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
    await page.goto(srv.base);
    await waitText(page, '#conn', 'live');
    await page.waitForSelector('#model-select option[value="' + GGUF + '"]', { state: 'attached' });
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
  });

  test('after Load the status says loaded; the model it unloaded to make room is a note', async () => {
    // One model at a time (the default): loading the starter model unloads echo-story.
    assert.equal((await srv.api('v1/internal/model/load', { model_name: 'echo-story' })).status, 200);
    await waitText(page, '#activity', 'loaded echo-story');
    await page.selectOption('#model-select', GGUF);
    await waitText(page, '#settings-source', 'Settings:');
    await page.selectOption('#loader-select', 'llama.cpp');
    await page.click('#load');
    await waitText(page, '#model-status', 'Successfully loaded `' + GGUF + '` with llama.cpp');
    await waitText(page, '#activity', 'unloaded echo-story');
    // The eviction's event arrives around the answer; give it time to (wrongly) take over.
    await page.waitForTimeout(1500);
    const status = await text(page, '#model-status');
    assert.match(status, /^Successfully loaded `stories260K\.gguf` with llama\.cpp/, status);
    assert.match(status, /unloaded `?echo-story`? to make room/, status);
    // The starter model loads clean: llama.cpp's notes on its vocabulary stay in the log.
    assert.doesNotMatch(status, /special token|special_eog_ids/, status);
    assert.doesNotMatch(await text(page, '#loaded-info'), /special token|special_eog_ids/);
    await shot(page, 'first-hour-loaded-1280');
  });

  test('a loader that cannot load the model says why, in the menu and its note, and Load is off', async () => {
    await page.selectOption('#model-select', GGUF);
    await waitText(page, '#settings-source', 'Settings:');
    const label = await page.$eval('#loader-select option[value="llamacpp_HF"]', (o) => o.textContent);
    assert.match(label, /cannot load: no Hugging Face tokenizer/, label);
    await page.selectOption('#loader-select', 'llamacpp_HF');
    await waitText(page, '#detect', 'llamacpp_HF cannot load this model');
    assert.match(await text(page, '#detect'), /tokenizer\.json beside the GGUF/);
    assert.match(await text(page, '#detect'), /oobabooga_llama-tokenizer/);
    assert.match(await text(page, '#loader-note'), /needs tokenizer\.json beside the GGUF/);
    assert.equal(await page.isDisabled('#load'), true);
    // Saving that choice is refused with the same reason.
    await page.click('#save-settings');
    await waitText(page, '#model-status', 'Not saved');
    assert.match(await text(page, '#model-status'), /llamacpp_HF loader cannot load/);
    await page.selectOption('#loader-select', 'llama.cpp');
    assert.equal(await page.isDisabled('#load'), false);
    await shot(page, 'first-hour-loader-reason-1280');
  });

  test('options with no effect here are folded under "Not used here", said once', async () => {
    await page.selectOption('#model-select', GGUF);
    await page.selectOption('#loader-select', 'llama.cpp');
    const shown = await page.$$eval('#options > .opt', (os) => os.map((o) => o.dataset.option));
    const folded = await page.$$eval('#options details.not-used .opt', (os) => os.map((o) => o.dataset.option));
    const state = (await srv.api('ui/api/state')).json;
    const specs = state.loaders.find((l) => l.id === 'llama.cpp').options;
    assert.deepEqual(folded, specs.filter((s) => s.applies).map((s) => s.name));
    assert.deepEqual(shown, specs.filter((s) => !s.applies).map((s) => s.name));
    if (folded.length) {
      assert.match(await text(page, '#options details.not-used summary'), /Not used here \(\d+\)/);
      assert.equal(await page.isVisible('#options details.not-used .opt'), false, 'folded until opened');
    }
    for (const loader of ['llama.cpp', 'llamacpp_HF']) {
      await page.selectOption('#loader-select', loader);
      const na = await page.$$eval('#options .na', (es) => es.map((e) => e.textContent));
      for (const n of na) assert.doesNotMatch(n, /no effect here:\s*no effect here/i, n);
      assert.notEqual(await text(page, '#loader-note'), '', loader + ' has a note');
    }
  });

  test('phone: model picker and Load/Unload/Reload/Save on the first screen, options folded, 40 px targets', async () => {
    const phone = await browser.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(srv.base);
    await phone.waitForSelector('#model-select option[value="' + GGUF + '"]', { state: 'attached' });
    await phone.selectOption('#model-select', GGUF);
    for (const sel of ['#model-select', '#load', '#unload', '#reload', '#save-settings']) {
      const b = await phone.locator(sel).boundingBox();
      assert.ok(b, sel + ' is shown');
      assert.ok(b.y + b.height <= 844, sel + ' is on the first screen (bottom at ' + (b.y + b.height) + ' px)');
      assert.ok(b.height >= 40, sel + ' is ' + b.height + ' px tall');
      assert.ok(b.x >= 0 && b.x + b.width <= 390, sel + ' fits the width');
    }
    assert.equal(await phone.$eval('#options-fold', (d) => d.open), false, 'options folded');
    assert.equal(await phone.isVisible('#options'), false);
    const small = await phone.$$eval('#tab-model button, #tab-model select, #options-fold > summary, .tabs button',
      (es) => es.filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 40)
        .map((e) => (e.id || e.textContent.trim()) + ' ' + e.getBoundingClientRect().height));
    assert.deepEqual(small, [], 'tap targets under 40 px');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'the Model tab is ' + overflow + ' px wider than the screen');
    await phone.click('#options-fold > summary');
    assert.equal(await phone.isVisible('#options'), true, 'the options open on a tap');
    await shot(phone, 'first-hour-model-tab-phone');
    await phone.close();
  });

  test('Generate tab: an empty prompt is refused, a full context is said', async () => {
    assert.equal((await srv.api('v1/internal/model/load', { model_name: 'echo-story' })).status, 200);
    await page.click('#tab-btn-generate');
    await waitText(page, '#gen-model', 'echo-story');
    assert.equal(await page.getAttribute('#prompt', 'placeholder'), null, 'no placeholder that looks like a prompt');
    await page.fill('#prompt', '   ');
    await page.click('#generate');
    await waitText(page, '#prompt-note', 'Write a prompt first');
    assert.equal(await text(page, '#output'), '', 'nothing was generated');
    const refused = await srv.api('ui/api/generate', { prompt: '' });
    assert.equal(refused.status, 400);
    // The echo model's context is 4096 tokens: asking for more ends when it is full.
    await page.fill('#prompt', 'x');
    await page.fill('#opt-max_new_tokens', '5000');
    await page.click('#generate');
    await waitText(page, '#gen-stats', 'context full', 60000);
    assert.match(await text(page, '#gen-stats'), /context of 4096 tokens is full/);
    assert.equal(await text(page, '#prompt-note'), '');
  });

  test('no script errors on the page', () => {
    assert.deepEqual(errors, []);
  });
});
