// The web UI in real headless Chromium (Debian's, driven by playwright-core): pick and load a
// model with a changed loader option, watch streamed text, stop a generation, and uninstall the
// loader on the Plugins tab to see the model unloaded and the loader gone, then install it again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ECHO_JAR, SCREENSHOTS, startLoadstone, until, waitForText } from '../support/loadstone.mjs';

const skip = process.env.LOADSTONE_NO_CHROMIUM || (process.env.LOADSTONE_CHROMIUM ? false
  : fs.existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (run run-tests.sh, which installs it)');
const CHROMIUM = process.env.LOADSTONE_CHROMIUM || '/usr/bin/chromium';

describe('web UI in Chromium', { skip }, () => {
  let srv;
  let browser;
  let page;
  const errors = [];

  const shot = async (p, name) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
  };
  const text = (p, sel) => p.locator(sel).first().textContent();
  const waitText = waitForText;
  const options = async (p, sel) => p.$$eval(sel + ' option', (os) => os.map((o) => o.value));

  before(async () => {
    srv = await startLoadstone('browser');
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = browser.pages()[0] || await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(srv.base);
    await waitText(page, '#conn', 'live');
    // The first state arrives after the event stream says hello.
    await page.waitForSelector('#model-select option[value="echo-story"]', { state: 'attached' });
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
  });

  test('Model tab: pick the model, see the detected loader, change an option, load', async () => {
    assert.deepEqual(await options(page, '#model-select'), ['', 'echo-story']);
    await page.selectOption('#model-select', 'echo-story');
    // The page then asks the server for the model's settings and rebuilds the form with them;
    // type only after that, as a user would once the form has settled.
    await waitText(page, '#settings-source', 'Settings:');
    assert.equal(await page.inputValue('#loader-select'), 'itest-echo', 'the detected loader is preselected');
    assert.deepEqual(await options(page, '#loader-select'), ['itest-echo'], 'only installed loaders are offered');
    assert.match(await text(page, '#detect'), /Detected: echo-model\.txt present/);
    assert.match(await text(page, '[data-option="delay_ms"] .help'), /Range 0–10000\. Default 0\./);

    await page.fill('#opt-delay_ms', '120');
    assert.equal(await page.inputValue('#opt-delay_ms'), '120');
    await page.click('#load');
    await waitText(page, '#model-status', 'Successfully loaded `echo-story` with itest-echo');
    await waitText(page, '#loaded-info', 'delay_ms=120');
    assert.match(await text(page, '#model-select option[value="echo-story"]'), /loaded/);
    await shot(page, 'model-tab-1280');
  });

  test('LoRA menu: lists the adapters copied into loras/, disabled with the reason for a loader without LoRA', async () => {
    // Copied while the page is open: the loras folder is watched, so the menu fills without a reload.
    const shared = process.env.LOADSTONE_SHARED_MODELS || path.resolve('../../../shared/models');
    for (const name of ['stories260K-lora-r8', 'stories260K-lora-r4-qv']) {
      const to = path.join(srv.home, 'loras', name);
      fs.mkdirSync(to, { recursive: true });
      if (fs.existsSync(path.join(shared, name))) fs.cpSync(path.join(shared, name), to, { recursive: true });
      else fs.writeFileSync(path.join(to, 'adapter_config.json'), '{"r": 8}');
    }
    fs.writeFileSync(path.join(srv.home, 'loras', 'notes.txt'), 'not an adapter');
    await until('the LoRA menu lists both adapters', async () => (await options(page, '#lora-select')).length === 2);
    assert.deepEqual(await options(page, '#lora-select'), ['stories260K-lora-r4-qv', 'stories260K-lora-r8']);
    // echo-story is loaded with the echo loader, which has no LoRA: menu and button say why they are off.
    await waitText(page, '#lora-note', 'The itest-echo loader cannot apply LoRA adapters to echo-story');
    assert.equal(await page.isDisabled('#lora-select'), true);
    assert.equal(await page.isDisabled('#lora-apply'), true);
    assert.match(await page.getAttribute('#lora-apply', 'title'), /itest-echo loader cannot apply LoRA/);
    const list = await srv.api('v1/internal/lora/list');
    assert.deepEqual(list.json, { lora_names: ['stories260K-lora-r4-qv', 'stories260K-lora-r8'] });
    const refused = await srv.api('v1/internal/lora/load', { lora_names: ['stories260K-lora-r8'] });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.message, /itest-echo loader cannot apply LoRA/);
    await page.click('#lora-refresh');
    await waitText(page, '#activity', 'LoRA list refreshed: 2 adapter(s)');
    await shot(page, 'model-tab-lora-1280');
  });

  test('another open page follows the runtime live (server-sent events)', async () => {
    const other = await browser.newPage();
    await other.goto(srv.base);
    await waitText(other, '#conn', 'live');
    await other.waitForSelector('#model-select option[value="echo-story"]', { state: 'attached' });
    const r = await srv.api('v1/internal/model/unload', {});
    assert.equal(r.status, 200);
    await waitText(page, '#activity', 'unloaded echo-story');
    await waitText(other, '#activity', 'unloaded echo-story');
    await waitText(page, '#model-status', 'Unloaded echo-story');
    await page.click('#load');
    await waitText(other, '#activity', 'loaded echo-story [itest-echo]');
    await waitText(page, '#model-status', 'Successfully loaded');
    await other.close();
  });

  test('Generate tab: text streams in, tokens/s shown, only supported parameters offered', async () => {
    await page.click('#tab-btn-generate');
    await waitText(page, '#gen-model', 'echo-story');
    const shown = await page.$$eval('#gen-params .opt', (os) => os.map((o) => o.dataset.option));
    assert.deepEqual(shown, ['max_new_tokens', 'seed', 'temperature', 'do_sample']);
    assert.match(await text(page, '#gen-hidden'), /does not support them: top_p/);

    await page.fill('#prompt', 'Once upon a time');
    await page.fill('#opt-max_new_tokens', '9');
    await page.click('#generate');
    // 120 ms per word: part of the text is there while the generation still runs. Checked in
    // one step inside the page, so the answer does not depend on how fast this test runs.
    const partial = await (await page.waitForFunction(() => {
      const t = document.querySelector('#output').textContent;
      return t.includes('the quick') && !document.querySelector('#stop').disabled ? t : false;
    }, null, { timeout: 20000 })).jsonValue();
    assert.doesNotMatch(partial, /lazy dog/, 'seen before the end: streamed, not all at once');
    await waitText(page, '#gen-stats', 'stopped: length');
    assert.equal(await text(page, '#output'), 'Once upon a timethe quick brown fox jumps over the lazy dog');
    assert.match(await text(page, '#gen-stats'), /^9 tokens · [0-9.]+ tokens\/s/);
    await shot(page, 'generate-tab-1280');
  });

  test('Generate tab: Stop ends the generation on the server', async () => {
    await page.fill('#opt-max_new_tokens', '4000');
    await page.click('#generate');
    await waitText(page, '#output', 'brown fox');
    await page.click('#stop');
    await waitText(page, '#gen-stats', 'stopped');
    await until('server-side generation cancelled', async () => {
      const st = (await srv.api('ui/api/state')).json;
      return Object.keys(st.queue).length === 0;
    }, 20000);
    assert.equal(await page.isDisabled('#stop'), true);
  });

  test('Plugins tab: uninstall the loader, the model is unloaded and the loader leaves the dropdown', async () => {
    await page.click('#tab-btn-plugins');
    const row = 'tr[data-bundle="io.loadstone.itest-loader"]';
    await page.waitForSelector(row);
    assert.match(await text(page, row), /itest-echo/);
    assert.match(await text(page, row), /active/);
    await shot(page, 'plugins-tab-1280');
    await page.click(row + ' button.danger');
    await waitText(page, row + ' button.danger', 'Confirm uninstall');
    await page.click(row + ' button.danger');
    await waitText(page, '#plugin-status', 'Uninstalled io.loadstone.itest-loader');
    await page.waitForSelector(row, { state: 'detached' });
    assert.equal(fs.existsSync(path.join(srv.home, 'plugins', 'itest-loader.jar')), false, 'jar removed from plugins/');

    await page.click('#tab-btn-model');
    await waitText(page, '#model-status', 'went away');
    await page.waitForFunction(() => !document.querySelector('#loaded-info').textContent.includes('echo-story'));
    assert.deepEqual(await options(page, '#loader-select'), [''], 'no loader left to choose');
    assert.equal(await page.isDisabled('#load'), true);
    assert.equal((await srv.api('ui/api/state')).json.loaded.length, 0);
    await shot(page, 'model-tab-loader-gone-1280');
  });

  test('Plugins tab: upload the loader jar again and it is back without a restart', async () => {
    await page.click('#tab-btn-plugins');
    await page.setInputFiles('#plugin-file', ECHO_JAR);
    await page.click('#plugin-install');
    await waitText(page, '#plugin-status', 'Installed io.loadstone.itest-loader', 30000);
    assert.ok(fs.existsSync(path.join(srv.home, 'plugins', 'itest-loader.jar')), 'kept in plugins/ for the next start');
    await page.click('#tab-btn-model');
    await page.waitForFunction(() => [...document.querySelectorAll('#loader-select option')].some((o) => o.value === 'itest-echo'));
    await page.selectOption('#model-select', 'echo-story');
    await page.click('#load');
    await waitText(page, '#model-status', 'Successfully loaded');
  });

  test('Save settings: the loader options come back when the model is picked in a new page', async () => {
    await page.click('#tab-btn-model');
    await page.selectOption('#model-select', 'echo-story');
    await waitText(page, '#settings-source', 'Settings:');
    await page.fill('#opt-delay_ms', '42');
    await page.click('#save-settings');
    await waitText(page, '#model-status', 'saved to');
    assert.match(await text(page, '#model-status'), /config-user\.json/);

    const fresh = await browser.newPage();
    await fresh.goto(srv.base);
    await fresh.waitForSelector('#model-select option[value="echo-story"]', { state: 'attached' });
    await fresh.selectOption('#model-select', 'echo-story');
    await waitText(fresh, '#settings-source', 'saved in config-user.json');
    assert.equal(await fresh.inputValue('#opt-delay_ms'), '42');
    await shot(fresh, 'model-tab-saved-settings-1280');
    await fresh.close();
  });

  test('what was typed into the option form survives a rebuild of the form', async () => {
    await page.click('#tab-btn-model');
    await page.selectOption('#model-select', 'echo-story');
    await waitText(page, '#settings-source', 'Settings:');
    await page.fill('#opt-delay_ms', '77');
    // Picking the same loader again rebuilds the form, as a state refresh or late settings can.
    await page.dispatchEvent('#loader-select', 'change');
    assert.equal(await page.inputValue('#opt-delay_ms'), '77');
  });

  test('phone width: every tab fits the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['model', 'generate', 'plugins']) {
      await page.click('#tab-btn-' + tab);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, tab + ' tab is ' + overflow + ' px wider than the screen');
      await shot(page, tab + '-tab-phone');
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('no script errors on the page', () => {
    assert.deepEqual(errors, []);
  });
});

describe('web UI with an API key', { skip }, () => {
  let srv;
  let browser;

  before(async () => {
    srv = await startLoadstone('browser-key', ['--api-key', 'open-sesame'], { headers: { Authorization: 'Bearer open-sesame' } });
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
  });

  test('the page asks for the key once, refuses a wrong one, then works', async () => {
    const page = browser.pages()[0] || await browser.newPage();
    await page.goto(srv.base);
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', 'wrong');
    await page.click('#key-ok');
    await page.waitForFunction(() => !document.querySelector('#key-error').hidden
      && document.querySelector('#key-error').textContent.includes('Wrong API key'));
    await page.fill('#key-input', 'open-sesame');
    await page.click('#key-ok');
    await page.waitForSelector('#key-dialog', { state: 'hidden' });
    await page.waitForSelector('#model-select option[value="echo-story"]', { state: 'attached' });
    await page.waitForFunction(() => document.querySelector('#conn').textContent === 'live');
    // The cookie is HttpOnly: scripts on the page cannot read the key.
    assert.equal(await page.evaluate(() => document.cookie), '');
    await page.reload();
    await page.waitForSelector('#model-select option[value="echo-story"]', { state: 'attached' });
    assert.equal(await page.isVisible('#key-dialog'), false, 'not asked again after a reload');
  });
});
