// The Model tab's LoRA(s) menu with a loader that applies LoRAs: llama.cpp dropped into plugins/, the
// starter model stories260K.gguf and the two PEFT test adapters from the shared models in loras/. Apply
// LoRAs changes what the model writes (PEFT's own greedy texts, reference.json), another open page
// follows an API change live, and applying none gives the base text back exactly.
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
const SHARED = process.env.LOADSTONE_SHARED_MODELS || path.resolve('../../../shared/models');
const LLAMA_JARS = ['sampling.jar', 'natives.jar', 'llamacpp.jar', 'llamacpp-linux-x86_64.jar', 'loader-llamacpp.jar'];
const R8 = 'stories260K-lora-r8';
const QV = 'stories260K-lora-r4-qv';

const skip = process.env.LOADSTONE_NO_CHROMIUM || (process.env.LOADSTONE_CHROMIUM ? false
  : fs.existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium (run run-tests.sh, which installs it)')
  || (process.arch !== 'x64' || process.platform !== 'linux' ? 'the llama.cpp fragment copied here is linux-x86_64' : false)
  || (fs.existsSync(path.join(SHARED, R8, 'reference.json')) ? false : 'no shared test adapters in ' + SHARED);

describe('LoRA menu with llama.cpp in Chromium', { skip }, () => {
  let srv;
  let browser;
  let page;
  let ref;
  const errors = [];

  const waitText = (p, sel, want, timeout = 30000) => waitForText(p, sel, want, timeout);
  const greedy = async () => {
    const r = await srv.api('v1/completions', { model: 'stories260K.gguf', prompt: 'Once upon a time', max_tokens: 30, temperature: 0 });
    assert.equal(r.status, 200, r.text);
    return r.json.choices[0].text;
  };

  before(async () => {
    ref = JSON.parse(fs.readFileSync(path.join(SHARED, R8, 'reference.json'), 'utf8'));
    srv = await startLoadstone('lora');
    fs.copyFileSync(path.join(BUNDLES, 'stories260K.gguf'), path.join(srv.home, 'models', 'stories260K.gguf'));
    for (const name of [R8, QV]) fs.cpSync(path.join(SHARED, name), path.join(srv.home, 'loras', name), { recursive: true });
    for (const jar of LLAMA_JARS) {
      dropPlugin(srv.home, path.join(BUNDLES, jar));
    }
    await until('the llama.cpp loader in plugins/', async () => {
      const r = await srv.api('ui/api/state');
      return r.json && r.json.loaders.some((l) => l.id === 'llama.cpp');
    }, 60000);
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'loadstone-chromium-')), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = browser.pages()[0] || await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
    await page.goto(srv.base);
    await waitText(page, '#conn', 'live');
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.stop();
  });

  test('Apply LoRAs: one, then both from another client (live), then none restores the base text', async () => {
    await waitText(page, '#lora-note', 'Load a model to apply LoRAs.');
    assert.equal(await page.isDisabled('#lora-apply'), true);
    const load = await srv.api('v1/internal/model/load', { model_name: 'stories260K.gguf', args: { loader: 'llama.cpp', n_ctx: 256 } });
    assert.equal(load.status, 200, load.text);
    await waitText(page, '#lora-note', 'No LoRA applied to stories260K.gguf.');
    assert.equal(await page.isDisabled('#lora-apply'), false);
    const base = await greedy();
    assert.equal(base, ref.base_greedy_text);

    await page.selectOption('#lora-select', [R8]);
    await page.click('#lora-apply');
    await waitText(page, '#model-status', 'Successfully applied the LoRAs to `stories260K.gguf`: ' + R8);
    await waitText(page, '#lora-note', 'Applied to stories260K.gguf: ' + R8 + '.');
    await waitText(page, '#lora-select option[value="' + R8 + '"]', 'applied');
    assert.equal(await greedy(), ref.adapter_greedy_text, 'PEFT\'s greedy text with the r8 adapter');

    // Another client changes the set: the page follows through the event stream.
    const both = await srv.api('v1/internal/lora/load', { lora_names: [R8, QV] });
    assert.equal(both.status, 200, both.text);
    await waitText(page, '#lora-note', 'Applied to stories260K.gguf: ' + R8 + ', ' + QV + '.');
    assert.deepEqual(await page.$$eval('#lora-select option', (os) => os.filter((o) => o.selected).map((o) => o.value)).then((v) => v.sort()), [QV, R8]);
    assert.equal(await greedy(), ref.both_adapters_greedy_text);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'model-tab-lora-applied-1280.png'), fullPage: true });

    // A scale per selected adapter: r8 at 0 computes the base model, exactly.
    await page.selectOption('#lora-select', [R8]);
    assert.equal(await page.inputValue('#lora-scales input[data-lora="' + R8 + '"]'), '1', 'the applied scale');
    await page.fill('#lora-scales input[data-lora="' + R8 + '"]', '0');
    await page.click('#lora-apply');
    await waitText(page, '#lora-note', 'Applied to stories260K.gguf: ' + R8 + ' ×0.');
    assert.equal(await greedy(), base, 'r8 at scale 0: the base text');

    await page.selectOption('#lora-select', []);
    await page.click('#lora-apply');
    await waitText(page, '#model-status', 'Removed the LoRAs from `stories260K.gguf`.');
    await waitText(page, '#lora-note', 'No LoRA applied to stories260K.gguf.');
    assert.equal(await greedy(), base, 'no adapter: the base text, exactly');
    const info = await srv.api('v1/internal/model/info');
    assert.deepEqual(info.json.lora_names, []);
  });

  test('no script errors on the page', () => {
    assert.deepEqual(errors, []);
  });
});
