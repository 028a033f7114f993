'use strict';
// Loadstone web UI: one state object from /ui/api/state redraws the tabs; server-sent events
// from /ui/api/events say when to fetch it again, so every open page follows the runtime live.

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};

const ui = {
  state: null,
  plugins: null,
  optionsKey: '',      // model|loader the option form was built for
  typed: null,         // {form: model|loader, values}: what the user last typed into the option form
  paramsKey: '',       // loader the parameter form was built for
  generating: null,    // AbortController of the running generation
  busy: false,
  // model -> time until which load events for it are this page's own load echoing back: the
  // status line keeps the load's own answer instead of being overwritten by the event.
  ownLoad: {},
  // model -> its settings from the server (loader defaults, then the model's files, then
  // config-user.json / config-user.yaml), fetched when the model is selected.
  settings: {},
  // download job id -> true once its done/failed/cancelled event has been shown
  downloadsEnded: {},
  // download job id -> true once this page has shown it running
  downloadsWatched: {},
};

// ---- HTTP --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const init = { method: options.method || 'GET', headers: {} };
  if (options.json !== undefined) {
    init.method = options.method || 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    init.method = 'POST';
    init.body = options.body;
    Object.assign(init.headers, options.headers || {});
  }
  // Installing or removing plugins needs the token the server wrote into this page.
  const token = document.querySelector('meta[name="loadstone-token"]');
  if (token && init.method !== 'GET') init.headers['X-Loadstone-Token'] = token.content;
  const resp = await fetch(path, init);
  let body = null;
  try { body = await resp.json(); } catch (e) { /* empty or not JSON */ }
  // A 401 from the Hub (gated or private repo) is not this server asking for its API key.
  if (resp.status === 401 && !(body && body.error && String(body.error.code || '').startsWith('hub_'))) { askKey(); }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

// ---- API key -----------------------------------------------------------------------------

function askKey() {
  const d = $('#key-dialog');
  if (!d.open) d.showModal();
}

$('#key-form') && $('#key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('#key-error');
  try {
    await api('ui/api/login', { json: { key: $('#key-input').value } });
    $('#key-dialog').close();
    err.hidden = true;
    connectEvents();
    refreshAll();
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
});

// ---- tabs --------------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) {
    b.setAttribute('aria-selected', String(b.dataset.tab === name));
  }
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== 'tab-' + name;
  if (name === 'plugins') refreshPlugins();
  if (name === 'evaluate') refreshEvaluation();
  history.replaceState(null, '', '#' + name);
}
for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));

// ---- activity log and status lines --------------------------------------------------------

function log(text, level) {
  const li = el('li', { class: level || '' }, el('span', { class: 't', text: new Date().toLocaleTimeString() }), text);
  const ol = $('#activity');
  ol.prepend(li);
  while (ol.children.length > 60) ol.lastChild.remove();
}

function status(sel, text, kind, computed) {
  const s = $(sel);
  if (sel === '#model-status' && !computed) ui.statusTouched = true;
  s.textContent = text || '';
  s.className = 'status' + (kind ? ' ' + kind : '');
}

// ---- state -------------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshAll, 120);
}

async function refreshAll() {
  try {
    ui.state = await api('ui/api/state');
    renderModelTab();
    renderGenerateTab();
    renderEvalModel();
    renderEvalModels();
  } catch (e) {
    if (e.status !== 401) status('#model-status', 'Cannot reach the runtime: ' + e.message, 'error');
  }
  if (!$('#tab-plugins').hidden) refreshPlugins();
}

function selectedModel() { return ui.state && ui.state.models.find((m) => m.name === $('#model-select').value); }
function loaderInfo(id) { return ui.state && ui.state.loaders.find((l) => l.id === id); }
function loadedState(name) { return ui.state && ui.state.loaded.find((l) => l.name === name); }

// ---- Model tab ---------------------------------------------------------------------------

function renderModelTab() {
  const st = ui.state;
  $('#models-dir').textContent = st.modelsDir;

  const ms = $('#model-select');
  const prev = ms.value || (st.loaded.length ? st.loaded[st.loaded.length - 1].name : '');
  ms.replaceChildren(el('option', { value: '', text: st.models.length ? 'None' : 'None (the models folder is empty)' }),
    ...st.models.map((m) => el('option', { value: m.name, text: m.name + (m.loaded ? '  ● loaded' : '') })));
  ms.value = st.models.some((m) => m.name === prev) ? prev : '';
  onModelSelected(false);

  const loaded = st.loaded;
  const info = $('#loaded-info');
  info.replaceChildren(...loaded.map((l) => el('div', { class: 'loaded' },
    el('dl', { class: 'kv' },
      el('dt', { text: 'Loaded' }), el('dd', {}, el('strong', { text: l.name })),
      el('dt', { text: 'Loader' }), el('dd', { text: l.loader }),
      el('dt', { text: 'Model' }), el('dd', { text: l.description }),
      el('dt', { text: 'Context' }), el('dd', { text: l.contextLength + ' tokens' + (l.trainedContextLength ? ' (trained ' + l.trainedContextLength + ')' : '') }),
      el('dt', { text: 'Options' }), el('dd', { class: 'small', text: Object.entries(l.effectiveOptions).map(([k, v]) => k + '=' + v).join(', ') || '–' })),
    l.warnings.length ? el('ul', { class: 'warnings' }, l.warnings.map((w) => el('li', { text: w }))) : null)));
  // Until an action or event writes the status line, it describes what is loaded.
  if (!ui.statusTouched && !ui.busy) {
    const last = loaded[loaded.length - 1];
    status('#model-status', last ? 'Ready: ' + last.name + ' is loaded with ' + last.loader + '.' : 'No model is loaded.',
      last ? 'ok' : '', true);
  }
  renderLoras();
  updateModelButtons();
}

// ---- LoRA menu (webui: LoRA(s) multiselect with refresh and Apply LoRAs) --------------------

/** The loaded model the LoRA menu acts on: the selected model when it is loaded, else the newest one. */
function loraTarget() {
  const st = ui.state;
  if (!st || !st.loaded.length) return null;
  const m = selectedModel();
  return (m && loadedState(m.name)) || st.loaded[st.loaded.length - 1];
}

function renderLoras() {
  const st = ui.state;
  const target = loraTarget();
  const sel = $('#lora-select');
  const applied = target ? target.loras.map((l) => l.name) : [];
  const key = target ? target.name + '|' + applied.join(',') : '';
  // Keep what the user picked until the applied set or the target changes; then show the applied set.
  const picked = ui.loraKey === key ? [...sel.selectedOptions].map((o) => o.value) : applied;
  ui.loraKey = key;
  sel.replaceChildren(...st.loras.map((n) => el('option', { value: n, text: n + (applied.includes(n) ? '  ● applied' : '') })));
  for (const o of sel.options) o.selected = picked.includes(o.value);
  renderLoraScales(target);
  const able = st.loaders.filter((l) => l.capabilities.lora !== 'NONE').map((l) => l.id);
  let reason = '';
  if (!target) reason = 'Load a model to apply LoRAs.';
  else if (target.loraSupport === 'NONE') {
    reason = 'The ' + target.loader + ' loader cannot apply LoRA adapters to ' + target.name + '. '
      + (able.length ? 'Load it with a loader that can: ' + able.join(', ') + '.' : 'No installed loader can.');
  }
  const disabled = ui.busy || !!reason;
  sel.disabled = disabled;
  $('#lora-apply').disabled = disabled;
  sel.title = reason;
  $('#lora-apply').title = reason || 'Apply exactly the selected LoRAs to ' + target.name + ' (none selected: remove them)';
  const note = $('#lora-note');
  const parts = [];
  if (reason) parts.push(reason);
  else {
    parts.push(applied.length ? 'Applied to ' + target.name + ': ' + target.loras.map((l) => l.scale === 1 ? l.name : l.name + ' ×' + l.scale).join(', ') + '.'
      : 'No LoRA applied to ' + target.name + '.');
    if (target.loraSupport === 'SINGLE') parts.push('The ' + target.loader + ' loader applies one LoRA at a time.');
  }
  if (!st.loras.length) parts.push('No adapters in ' + st.lorasDir + ' (a PEFT folder with adapter_config.json).');
  note.textContent = parts.join(' ');
  note.className = 'note' + (reason && target ? ' warn' : '');
}

/**
 * One scale per selected adapter (1 = as trained; PEFT's alpha/r is applied on top), filled with
 * the applied scale when the adapter is applied, else with what the user typed last.
 */
function renderLoraScales(target) {
  const box = $('#lora-scales');
  const typed = {};
  for (const input of box.querySelectorAll('input')) typed[input.dataset.lora] = input.value;
  const applied = {};
  if (target) for (const l of target.loras) applied[l.name] = l.scale;
  const names = [...$('#lora-select').selectedOptions].map((o) => o.value);
  box.replaceChildren(...names.map((n) => {
    const id = 'lora-scale-' + n.replace(/[^A-Za-z0-9_-]/g, '_');
    const input = el('input', { type: 'number', id, step: '0.05', min: '-10', max: '10' });
    input.dataset.lora = n;
    input.value = n in typed ? typed[n] : (n in applied ? applied[n] : 1);
    input.disabled = $('#lora-select').disabled;
    return el('div', { class: 'lora-scale' }, el('label', { for: id, text: n + ' scale' }), input);
  }));
}

$('#lora-select').addEventListener('change', () => renderLoraScales(loraTarget()));

$('#lora-refresh').addEventListener('click', async () => {
  try {
    ui.state = await api('ui/api/loras/refresh', { json: {} });
    renderModelTab();
    log('LoRA list refreshed: ' + ui.state.loras.length + ' adapter(s).');
  } catch (e) { status('#model-status', e.message, 'error'); }
});
$('#lora-apply').addEventListener('click', async () => {
  const target = loraTarget();
  if (!target) return;
  const names = [...$('#lora-select').selectedOptions].map((o) => o.value);
  const scales = names.map((n) => {
    const input = [...$('#lora-scales').querySelectorAll('input')].find((i) => i.dataset.lora === n);
    const v = input ? Number(input.value) : 1;
    return Number.isFinite(v) ? v : 1;
  });
  status('#model-status', names.length ? 'Applying the following LoRAs to ' + target.name + ': ' + names.join(', ') + '…'
    : 'Removing the LoRAs from ' + target.name + '…', 'busy');
  try {
    const r = await api('ui/api/loras', { json: { model: target.name, loras: names, scales } });
    status('#model-status', r.message, 'ok');
    ui.state = r.state;
    ui.loraKey = '';
    renderModelTab();
  } catch (e) {
    status('#model-status', 'LoRAs not applied: ' + e.message, 'error');
  }
});

/** Why the selected loader cannot load the model (the loader's own reason), or '' when it can. */
function refusal(m, loaderId) {
  if (!m || !loaderId || m.candidates.some((c) => c.loader === loaderId)) return '';
  return (m.refusals && m.refusals[loaderId]) || (m.candidates.length ? 'it detected nothing it can load here' : m.hint || 'no loader fits');
}

function updateModelButtons() {
  const m = selectedModel();
  const loader = $('#loader-select').value;
  const why = refusal(m, loader);
  $('#load').disabled = ui.busy || !m || !loader || !!why;
  $('#load').title = why ? loader + ' cannot load ' + m.name + ': ' + why : '';
  $('#reload').disabled = ui.busy || !m || !m.loaded || !loader;
  $('#unload').disabled = ui.busy || !ui.state || !ui.state.loaded.length;
}

function onModelSelected(userAction) {
  const st = ui.state;
  const m = selectedModel();
  const meta = $('#model-meta');
  const ls = $('#loader-select');
  const prevLoader = ls.value;
  // Only installed loaders are offered; the best one for this model comes first and is preselected.
  const order = m ? m.candidates.map((c) => c.loader) : [];
  const rest = st.loaders.map((l) => l.id).filter((id) => !order.includes(id));
  ls.replaceChildren(...order.concat(rest).map((id) => {
    const c = m && m.candidates.find((x) => x.loader === id);
    const why = m && !c ? refusal(m, id) : '';
    return el('option', { value: id, title: why, text: id + (c && c === m.candidates[0] ? '  (detected)' : c ? '' : m ? '  (cannot load: ' + why + ')' : '') });
  }));
  if (!st.loaders.length) ls.append(el('option', { value: '', text: 'No loaders installed' }));
  const loaded = m && loadedState(m.name);
  if (!userAction && prevLoader && [...ls.options].some((o) => o.value === prevLoader) && ui.optionsKey.startsWith((m ? m.name : '') + '|')) {
    ls.value = prevLoader;
  } else if (loaded) {
    ls.value = loaded.loader;
  } else if (m && m.best) {
    ls.value = m.best;
  }
  // The server writes the size (ByteSize), so the shell, the UI and the download tool agree.
  meta.textContent = m ? m.size + (m.loaded ? ' · loaded' : '') : '';
  onLoaderSelected(userAction);
  // Once per model, or when the user picks it: background refreshes must not reset the form.
  if (m && (userAction || !(m.name in ui.settings))) fetchSettings(m.name, userAction);
}

// Applies the server's settings for the model, as text-generation-webui does when a model is
// picked; with Autoload on, a model picked by the user is loaded right away.
async function fetchSettings(name, userAction) {
  try {
    const s = await api('ui/api/settings?model=' + encodeURIComponent(name));
    ui.settings[name] = s;
    const m = selectedModel();
    if (!m || m.name !== name) return;
    $('#settings-source').textContent = s.sources.length ? 'Settings: ' + s.sources.join('; ') + '.' : '';
    // Never overwrite options the user has edited since the form was built (the answer can
    // arrive after the user started typing).
    if (ui.optionsDirty) return;
    const ls = $('#loader-select');
    if (s.loader && !loadedState(name) && [...ls.options].some((o) => o.value === s.loader)) ls.value = s.loader;
    ui.optionsKey = '';
    onLoaderSelected(false);
    if (userAction && $('#autoload').checked && !m.loaded && s.loader) load(false);
  } catch (e) {
    $('#settings-source').textContent = '';
  }
}

function onLoaderSelected(userAction) {
  const m = selectedModel();
  const id = $('#loader-select').value;
  const det = $('#detect');
  det.className = 'note';
  if (!m) {
    det.textContent = ui.state.models.length ? 'Pick a model.' : 'Put a .gguf file or a model folder into the models folder, then press ↻.';
  } else if (!ui.state.loaders.length) {
    det.textContent = m.hint || 'No loaders are installed. Add one on the Plugins tab.';
    det.className = 'note warn';
  } else {
    const c = m.candidates.find((x) => x.loader === id);
    if (c) {
      det.textContent = (c === m.candidates[0] ? 'Detected: ' : 'Also fits: ') + c.reason + ' (score ' + c.score + ')';
    } else if (!m.candidates.length) {
      det.textContent = m.hint || 'No installed loader can load this model.';
      det.className = 'note warn';
    } else {
      det.textContent = id + ' cannot load this model: ' + refusal(m, id) + '. Use ' + m.candidates[0].loader + ' (' + m.candidates[0].reason + ').';
      det.className = 'note warn';
    }
  }
  $('#loader-note').textContent = LOADER_NOTES[id] || '';
  const key = (m ? m.name : '') + '|' + id + '|' + JSON.stringify(loaderInfo(id) ? loaderInfo(id).options : []);
  if (userAction || key !== ui.optionsKey) {
    ui.optionsKey = key;
    renderOptions(m, loaderInfo(id));
  }
  updateModelButtons();
}

$('#model-select').addEventListener('change', () => onModelSelected(true));
$('#loader-select').addEventListener('change', () => onLoaderSelected(true));

// text-generation-webui's per-loader info blocks (*_info), as one short note per loader.
const LOADER_NOTES = {
  'llama.cpp': 'GGUF files on llama.cpp. n_ctx 0 takes the model\'s own context (capped at 8192); cache_type fp32 gives exact logits at twice the cache memory.',
  'llamacpp_HF': 'llama.cpp with a Hugging Face tokenizer and samplers: it needs tokenizer.json beside the GGUF (both in a folder of their own under models/) or models/oobabooga_llama-tokenizer. cfg_cache enables the negative prompt.',
  'Transformers': 'Hugging Face folders (safetensors or pytorch_model*.bin) on the Java engine. load_in_8bit / load_in_4bit quantize while loading; cpu_memory keeps the layers beyond it memory-mapped from disk.',
};

/** Why an option does nothing here, without the "no effect here" some loaders already start it with. */
function noEffectReason(spec) {
  return String(spec.applies).replace(/^\s*(has\s+)?no effect( here)?\s*[:.,-]?\s*/i, '');
}

function optionWidget(spec, value, onInput) {
  const id = 'opt-' + spec.name;
  const wrap = el('div', { class: 'opt' + (spec.applies ? ' inactive' : ''), 'data-option': spec.name });
  let input;
  if (spec.type === 'BOOLEAN') {
    input = el('input', { type: 'checkbox', id });
    input.checked = value === true || value === 'true';
    wrap.append(el('div', { class: 'head' }, el('label', { class: 'check', for: id }, input, spec.name)));
  } else if (spec.type === 'CHOICE') {
    input = el('select', { id }, spec.choices.map((c) => el('option', { value: c, text: c })));
    input.value = value;
    wrap.append(el('div', { class: 'head' }, el('label', { for: id, text: spec.name })), input);
  } else if (spec.type === 'STRING') {
    input = el('input', { type: 'text', id });
    input.value = value === null || value === undefined ? '' : value;
    wrap.append(el('div', { class: 'head' }, el('label', { for: id, text: spec.name })), input);
  } else {
    const integer = spec.type === 'INTEGER';
    input = el('input', { type: 'number', id, step: integer ? '1' : 'any' });
    if (spec.min !== null) input.min = spec.min;
    if (spec.max !== null) input.max = spec.max;
    input.value = value;
    wrap.append(el('div', { class: 'head' }, el('label', { for: id, text: spec.name }), input));
    // A slider only where the range is small enough to drag through meaningfully.
    if (spec.min !== null && spec.max !== null && spec.max - spec.min <= 100000) {
      const step = integer ? 1 : (spec.step || (spec.max - spec.min) / 100);
      const range = el('input', { type: 'range', min: spec.min, max: spec.max, step, 'aria-label': spec.name });
      range.value = value;
      range.addEventListener('input', () => { input.value = range.value; onInput && onInput(); });
      input.addEventListener('input', () => { range.value = input.value; });
      wrap.append(range);
    }
  }
  if (onInput) input.addEventListener('input', onInput);
  const range = spec.min !== null && spec.min !== undefined && spec.max !== null && spec.max !== undefined
    && spec.type !== 'BOOLEAN' && spec.type !== 'CHOICE' ? ' Range ' + spec.min + '–' + spec.max + '.' : '';
  const dflt = spec.default !== undefined && spec.default !== null && spec.default !== '' ? ' Default ' + spec.default + '.' : '';
  wrap.append(el('div', { class: 'help', text: (spec.help || '') + range + dflt }));
  if (spec.applies) wrap.append(el('div', { class: 'na', text: 'No effect here: ' + noEffectReason(spec) }));
  return wrap;
}

function storedOptions(model, loader) {
  try { return JSON.parse(localStorage.getItem('loadstone.options.' + model + '|' + loader) || '{}'); } catch (e) { return {}; }
}

$('#options').addEventListener('input', () => {
  ui.optionsDirty = true;
  ui.typed = { form: $('#options').dataset.form, values: typedOptions($('#options')) };
});

function renderOptions(model, loader) {
  const box = $('#options');
  // A rebuild of the form for the same model and loader (a state refresh, settings arriving
  // late, the loader briefly gone while its bundle is updated) must not throw away what the user
  // typed into it: the last typed values are put back. Seen in a browser test as a typed option
  // reset to its default just before Save settings.
  const form = (model ? model.name : '') + '|' + (loader ? loader.id : '');
  const typed = ui.typed && ui.typed.form === form ? ui.typed.values : null;
  ui.optionsDirty = false;
  box.dataset.form = form;
  if (!loader) { box.replaceChildren(); return; }
  // What the user chose last time for this model and loader, else the loader's defaults. The
  // values a load resolved (threads=0 became 8) are shown beside the loaded model, not copied
  // here: a reload must ask for "automatic" again, not for this machine's answer to it.
  const server = model && ui.settings[model.name];
  const saved = server && server.loader === loader.id ? server.options : model ? storedOptions(model.name, loader.id) : {};
  const widget = (spec) => optionWidget(spec, spec.name in saved ? saved[spec.name] : spec.default);
  const unused = loader.options.filter((spec) => spec.applies);
  box.replaceChildren(
    el('div', { class: 'muted small about', text: loader.description + ' — ' + loader.bundle + ' ' + loader.bundleVersion }),
    ...loader.options.filter((spec) => !spec.applies).map(widget));
  // Options with no effect on this machine stay settable (saved settings may carry them) but out of the way.
  if (unused.length) {
    box.append(el('details', { class: 'not-used' }, el('summary', { text: 'Not used here (' + unused.length + ')' }),
      ...unused.map(widget)));
  }
  if (!loader.options.length) box.append(el('div', { class: 'muted small', text: 'This loader has no options.' }));
  if (typed) {
    for (const [id, v] of Object.entries(typed)) {
      const input = document.getElementById(id);
      if (!input) continue;
      if (input.type === 'checkbox') input.checked = v; else input.value = v;
      const range = input.closest('.opt') && input.closest('.opt').querySelector('input[type=range]');
      if (range && input.type !== 'checkbox') range.value = v;
    }
    ui.optionsDirty = true;
  }
}

/** The option inputs' current values by element id (checkbox: checked). */
function typedOptions(box) {
  const out = {};
  for (const input of box.querySelectorAll('[id^="opt-"]')) out[input.id] = input.type === 'checkbox' ? input.checked : input.value;
  return out;
}

function optionValues(loader) {
  const out = {};
  for (const spec of loader.options) {
    const input = document.getElementById('opt-' + spec.name);
    if (!input) continue;
    if (spec.type === 'BOOLEAN') out[spec.name] = input.checked;
    else if (spec.type === 'INTEGER' || spec.type === 'NUMBER') out[spec.name] = input.value === '' ? null : Number(input.value);
    else out[spec.name] = input.value;
  }
  return out;
}

async function load(reload) {
  const m = selectedModel();
  const loader = loaderInfo($('#loader-select').value);
  if (!m || !loader) return;
  const options = optionValues(loader);
  // Reload is "this model again, as it was loaded", whichever page presses it: the server
  // keeps the loader and options of the load, this form's values do not matter.
  const was = reload ? loadedState(m.name) : null;
  ui.busy = true;
  updateModelButtons();
  status('#model-status', (reload ? 'Reloading ' : 'Loading ') + m.name + ' with ' + (was ? was.loader : loader.id) + '…', 'busy');
  try {
    const r = reload ? await api('ui/api/reload', { json: { model: m.name } })
      : await api('ui/api/load', { json: { model: m.name, loader: loader.id, options } });
    if (!reload) {
      localStorage.setItem('loadstone.options.' + m.name + '|' + loader.id, JSON.stringify(options));
      // What was just used is what this page shows for the model from now on (not yet saved).
      const cached = ui.settings[m.name];
      if (cached && cached.loader === loader.id) cached.options = Object.assign({}, cached.options, options);
    }
    status('#model-status', r.message, 'ok');
    ui.state = r.state;
    ui.optionsKey = '';
    renderModelTab();
    renderGenerateTab();
  } catch (e) {
    status('#model-status', 'Failed to load ' + m.name + ': ' + e.message, 'error');
  } finally {
    ui.busy = false;
    ui.ownLoad[m.name] = Date.now() + 5000;
    updateModelButtons();
  }
}

$('#load').addEventListener('click', () => load(false));
// Autoload is the runtime's setting (Config Admin), shared by every page and kept for the next start.
api('ui/api/autoload').then((r) => { $('#autoload').checked = r.autoload; }).catch(() => {});
$('#autoload').addEventListener('change', async () => {
  try {
    const r = await api('ui/api/autoload', { json: { autoload: $('#autoload').checked } });
    $('#autoload').checked = r.autoload;
    log('Autoload ' + (r.autoload ? 'on' : 'off') + '.');
  } catch (e) {
    status('#model-status', 'Autoload not changed: ' + e.message, 'error');
  }
});
$('#save-settings').addEventListener('click', async () => {
  const m = selectedModel();
  const loader = loaderInfo($('#loader-select').value);
  if (!m || !loader) return;
  try {
    const r = await api('ui/api/settings', { json: { model: m.name, loader: loader.id, options: optionValues(loader) } });
    delete ui.settings[m.name];
    status('#model-status', r.message, 'ok');
    fetchSettings(m.name, false);
  } catch (e) {
    status('#model-status', 'Not saved: ' + e.message, 'error');
  }
});
$('#reload').addEventListener('click', () => load(true));
$('#unload').addEventListener('click', async () => {
  const m = selectedModel();
  const target = m && m.loaded ? m.name : (ui.state.loaded.length ? ui.state.loaded[ui.state.loaded.length - 1].name : null);
  if (!target) return;
  try {
    const r = await api('ui/api/unload', { json: { model: target } });
    status('#model-status', r.message, 'ok');
  } catch (e) {
    status('#model-status', e.message, 'error');
  }
  refreshAll();
});
$('#refresh').addEventListener('click', async () => {
  try {
    ui.state = await api('ui/api/models/refresh', { json: {} });
    renderModelTab();
    log('Model list refreshed: ' + ui.state.models.length + ' model(s).');
  } catch (e) { status('#model-status', e.message, 'error'); }
});

// ---- Generate tab ------------------------------------------------------------------------

function genModel() {
  const l = ui.state && ui.state.loaded;
  return l && l.length ? l[l.length - 1] : null;
}

function renderGenerateTab() {
  const m = genModel();
  $('#gen-model').textContent = m ? 'Model: ' + m.name + ' (' + m.loader + ')' : 'No model is loaded — load one in the Model tab.';
  if (!ui.generating) $('#generate').disabled = !m;
  const loader = m && loaderInfo(m.loader);
  // A negative prompt only where the loader does classifier-free guidance; others would refuse it.
  // llamacpp_HF does it only when loaded with cfg_cache (its second context), so say so instead.
  const needsCfgCache = !!(m && m.effectiveOptions && m.effectiveOptions.cfg_cache === false);
  $('#cfg').hidden = !(loader && loader.capabilities.cfg) || needsCfgCache;
  if (needsCfgCache && loader && loader.capabilities.cfg) {
    $('#gen-model').textContent += ' — negative prompt: reload with cfg_cache to use one';
  }
  const key = loader ? loader.id + '|' + loader.capabilities.samplers.join(',') : '';
  if (key === ui.paramsKey) return;
  ui.paramsKey = key;
  const box = $('#gen-params');
  const supported = loader ? loader.capabilities.samplers : [];
  const saved = (() => { try { return JSON.parse(localStorage.getItem('loadstone.params') || '{}'); } catch (e) { return {}; } })();
  const keep = () => localStorage.setItem('loadstone.params', JSON.stringify(paramValues(true)));
  const widgets = [
    optionWidget({ name: 'max_new_tokens', type: 'INTEGER', min: 1, max: 4096, default: 200, help: 'Upper bound on generated tokens.' },
      saved.max_new_tokens ?? 200, keep),
  ];
  if (supported.includes('seed')) {
    widgets.push(optionWidget({ name: 'seed', type: 'INTEGER', min: null, max: null, default: -1, help: '-1 = random.' }, saved.seed ?? -1, keep));
  }
  for (const s of ui.state.samplers) {
    if (!supported.includes(s.name)) continue;
    const spec = { name: s.name, type: s.type === 'boolean' ? 'BOOLEAN' : s.type === 'integer' ? 'INTEGER' : 'NUMBER',
      min: s.uiMin, max: s.uiMax, step: s.step, default: s.dflt, help: s.help };
    widgets.push(optionWidget(spec, s.name in saved ? saved[s.name] : s.dflt, keep));
  }
  box.replaceChildren(...widgets);
  const hidden = ui.state.samplers.map((s) => s.name).filter((n) => !supported.includes(n));
  $('#gen-hidden').textContent = loader ? (hidden.length ? 'Hidden because ' + loader.id + ' does not support them: ' + hidden.join(', ') + '.' : '')
    : 'Parameters appear once a model is loaded: only those its loader supports are shown.';
}

function paramValues(all) {
  const out = { params: {} };
  for (const wrap of document.querySelectorAll('#gen-params .opt')) {
    const name = wrap.dataset.option;
    const input = document.getElementById('opt-' + name);
    const v = input.type === 'checkbox' ? input.checked : Number(input.value);
    if (name === 'max_new_tokens' || name === 'seed') out[name] = v;
    else out.params[name] = v;
  }
  if (all) return Object.assign({}, out.params, { max_new_tokens: out.max_new_tokens, seed: out.seed });
  return out;
}

async function generate() {
  const m = genModel();
  if (!m || ui.generating) return;
  const note = $('#prompt-note');
  if (!$('#prompt').value.trim()) {
    note.textContent = 'Write a prompt first: the model continues the text you give it.';
    note.className = 'note warn';
    $('#prompt').focus();
    return;
  }
  note.textContent = '';
  note.className = 'note';
  const body = paramValues(false);
  body.model = m.name;
  body.prompt = $('#prompt').value;
  if (!$('#cfg').hidden && $('#negative-prompt').value) body.negative_prompt = $('#negative-prompt').value;
  const out = $('#output');
  out.replaceChildren(el('span', { class: 'prompt', text: body.prompt }));
  const gen = document.createTextNode('');
  out.append(gen);
  const ctrl = new AbortController();
  ui.generating = ctrl;
  $('#generate').disabled = true;
  $('#stop').disabled = false;
  $('#gen-stats').textContent = 'Generating…';
  const started = performance.now();
  let tokens = 0;
  try {
    const resp = await fetch('ui/api/generate', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: ctrl.signal,
    });
    if (!resp.ok) {
      let msg = 'HTTP ' + resp.status;
      try { msg = (await resp.json()).error.message; } catch (e) { /* keep */ }
      if (resp.status === 401) askKey();
      throw new Error(msg);
    }
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (!data.length) continue;
        const d = JSON.parse(data.join('\n'));
        if (event === 'token') {
          gen.appendData(d.text);
          tokens++;
          out.scrollTop = out.scrollHeight;
          const secs = (performance.now() - started) / 1000;
          $('#gen-stats').textContent = tokens + ' tokens · ' + (tokens / Math.max(secs, 1e-3)).toFixed(1) + ' tokens/s';
        } else if (event === 'queued') {
          $('#gen-stats').textContent = 'Waiting: ' + d.ahead + ' request(s) ahead on this model…';
        } else if (event === 'done') {
          $('#gen-stats').textContent = d.tokens + ' tokens · ' + d.tokensPerSecond.toFixed(1) + ' tokens/s · '
            + d.seconds.toFixed(2) + ' s · stopped: ' + d.reason.toLowerCase().replace('_', ' ') + (d.message ? ' — ' + d.message : '');
        } else if (event === 'error') {
          throw new Error(d.error.message);
        }
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') {
      $('#gen-stats').textContent = tokens + ' tokens · stopped.';
    } else {
      $('#gen-stats').textContent = '';
      out.append(el('div', { class: 'status error', text: e.message }));
    }
  } finally {
    ui.generating = null;
    $('#stop').disabled = true;
    $('#generate').disabled = !genModel();
  }
}

$('#generate').addEventListener('click', generate);
$('#stop').addEventListener('click', () => ui.generating && ui.generating.abort());
$('#prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) generate(); });

// ---- Plugins tab -------------------------------------------------------------------------

async function refreshPlugins() {
  try {
    ui.plugins = await api('ui/api/plugins');
    renderPlugins();
  } catch (e) {
    if (e.status !== 401) status('#plugin-status', e.message, 'error');
  }
}

function renderPlugins() {
  const p = ui.plugins;
  const all = $('#show-framework').checked;
  $('#plugins-dir').textContent = p.pluginsDir ? 'Installed jars are kept in ' + p.pluginsDir + ' and come back after a restart.'
    : 'No watched plugins folder: installed bundles last until the next restart.';
  const order = { loader: 0, plugin: 1, loadstone: 2, framework: 3 };
  const rows = p.bundles.filter((b) => all || b.category !== 'framework')
    .sort((a, b) => order[a.category] - order[b.category] || a.symbolicName.localeCompare(b.symbolicName));
  $('#bundles tbody').replaceChildren(...rows.map((b) => {
    const actions = el('td', { class: 'actions' });
    if (b.manageable) {
      if (!b.fragment) {
        actions.append(b.state === 'ACTIVE'
          ? el('button', { class: 'small', text: 'Stop', onclick: () => pluginAction(b, 'stop') })
          : el('button', { class: 'small', text: 'Start', onclick: () => pluginAction(b, 'start') }));
      }
      const picker = el('input', { type: 'file', accept: '.jar', hidden: true });
      picker.addEventListener('change', () => picker.files[0] && upload(picker.files[0]));
      actions.append(picker, el('button', { class: 'small', text: 'Update…', onclick: () => picker.click() }));
      const un = el('button', { class: 'small danger', text: 'Uninstall', 'data-bundle': b.symbolicName });
      un.addEventListener('click', () => {
        // Two steps instead of a browser dialog: harder to hit by accident, and scriptable.
        if (!un.classList.contains('confirm')) {
          un.classList.add('confirm');
          un.textContent = 'Confirm uninstall';
          setTimeout(() => { un.classList.remove('confirm'); un.textContent = 'Uninstall'; }, 4000);
          return;
        }
        pluginAction(b, 'uninstall');
      });
      actions.append(un);
    }
    return el('tr', { 'data-bundle': b.symbolicName },
      el('td', {}, el('div', { text: b.name }), el('div', { class: 'bsn', text: b.symbolicName })),
      el('td', { text: b.version }),
      el('td', {}, el('span', { class: 'badge ' + b.state, text: b.state.toLowerCase() })),
      el('td', {}, b.loaders.map((id) => el('span', { class: 'tag', text: id })), b.fragment ? el('span', { class: 'muted small', text: 'fragment' }) : null),
      actions);
  }));
}

async function pluginAction(b, action) {
  status('#plugin-status', action[0].toUpperCase() + action.slice(1) + ' ' + b.symbolicName + '…', 'busy');
  try {
    const r = await api('ui/api/plugins/' + b.id + '/' + action, { json: {} });
    status('#plugin-status', r.message, 'ok');
  } catch (e) {
    status('#plugin-status', e.message, 'error');
  }
  refreshPlugins();
  refreshSoon();
}

async function upload(file) {
  status('#plugin-status', 'Installing ' + file.name + '…', 'busy');
  try {
    const r = await api('ui/api/plugins/install', {
      body: file, headers: { 'Content-Type': 'application/java-archive', 'X-File-Name': file.name },
    });
    status('#plugin-status', r.message, 'ok');
  } catch (e) {
    status('#plugin-status', e.message, 'error');
  }
  $('#plugin-file').value = '';
  refreshPlugins();
  refreshSoon();
}

$('#plugin-install').addEventListener('click', () => {
  const f = $('#plugin-file').files[0];
  if (!f) { status('#plugin-status', 'Choose a .jar file first.', 'error'); return; }
  upload(f);
});
$('#show-framework').addEventListener('change', () => ui.plugins && renderPlugins());

// ---- Download model or LoRA (Model tab) ---------------------------------------------------

// Download sizes in powers of 1000, as the Hub's pages and the downloader's own descriptions write them.
function fmtSize(n) {
  if (n < 1000) return n + ' B';
  const u = ['kB', 'MB', 'GB', 'TB'];
  let v = n; let i = -1;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2) + ' ' + u[i];
}
function fmtRate(bps) { return (bps / 1e6).toFixed(bps >= 1e7 ? 0 : 1) + ' MB/s'; }
function fmtEta(s) {
  if (s === undefined || s === null) return '';
  if (s < 60) return s + ' s left';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s left';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min left';
}

function downloadInput() {
  const repo = $('#download-repo').value.trim();
  if (!repo) {
    status('#download-status', 'Enter a model first: user/model, user/model:branch, or a Hugging Face URL.', 'error');
    $('#download-repo').focus();
    return null;
  }
  return repo;
}

// One clickable file name: clicking a GGUF file puts it in the file name box.
function fileRow(path, size, pickable) {
  const name = pickable
    ? el('button', { class: 'pick', type: 'button', title: 'Use this file', text: path,
        onclick: () => { $('#download-file').value = path; status('#download-status', 'File name set to ' + path + '. Press Download.', 'ok'); } })
    : el('span', { class: 'path', text: path });
  return el('li', {}, name, el('span', { class: 'size', text: fmtSize(size) }));
}

async function downloadFileList() {
  const repo = downloadInput();
  if (!repo) return;
  const b = $('#download-list');
  b.disabled = true;
  status('#download-status', 'Getting the file list of ' + repo + '…', 'busy');
  $('#download-files').replaceChildren();
  try {
    const r = await api('ui/api/download/files', { json: { repo } });
    const ggufs = r.files.filter((f) => f.gguf).length;
    status('#download-status', r.files.length + ' files in ' + r.repo + (r.branch !== 'main' ? ':' + r.branch : '')
      + ', ' + fmtSize(r.totalBytes) + ' in all' + (ggufs ? '. Click a GGUF file to download only that one.' : '.'), 'ok');
    $('#download-files').replaceChildren(el('ul', { class: 'files', 'aria-label': 'Files in ' + r.repo },
      r.files.map((f) => fileRow(f.path, f.size, f.gguf))));
  } catch (e) {
    status('#download-status', e.message, 'error');
  } finally {
    b.disabled = false;
  }
}

async function downloadStart() {
  const repo = downloadInput();
  if (!repo) return;
  const file = $('#download-file').value.trim();
  const b = $('#download-start');
  b.disabled = true;
  status('#download-status', 'Checking ' + repo + (file ? ' (' + file + ')' : '') + '…', 'busy');
  try {
    const r = await api('ui/api/download', { json: file ? { repo, file } : { repo } });
    $('#download-files').replaceChildren();
    // A small download can finish (its event already shown) before this answer arrives.
    if (!ui.downloadsEnded[r.id]) {
      status('#download-status', 'Downloading ' + r.description, 'busy');
      renderJob(r);
    }
  } catch (e) {
    status('#download-status', e.message, 'error');
    // Refused before a job started (no network, no such repo): the activity log keeps it, as for a failed job.
    if (!(e.status === 409 && e.body && e.body.choices)) log('download of ' + repo + ' failed: ' + e.message, 'error');
    if (e.status === 409 && e.body && e.body.choices) {
      $('#download-files').replaceChildren(el('ul', { class: 'files', 'aria-label': 'GGUF files to choose from' },
        e.body.choices.map((c) => fileRow(c.file, c.size, true))));
    }
  } finally {
    b.disabled = false;
  }
}

function renderJob(j) {
  const box = $('#download-jobs');
  let card = box.querySelector('[data-job="' + CSS.escape(j.id) + '"]');
  if (!card) {
    card = el('div', { class: 'job', 'data-job': j.id },
      el('div', { class: 'head' }, el('span', { class: 'name' }), el('span', { class: 'act' })),
      el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, el('span')),
      el('div', { class: 'meta' }));
    box.prepend(card);
    while (box.children.length > 5) box.lastChild.remove();
  }
  // Events and answers can cross: a job that has ended does not go back to running.
  if (j.state === 'running' && ui.downloadsEnded[j.id]) return;
  if (j.state === 'running') ui.downloadsWatched[j.id] = true;
  const pct = Math.round((j.fraction || 0) * 1000) / 10;
  card.className = 'job ' + j.state;
  card.querySelector('.name').textContent = j.repo + (j.lora ? ' (LoRA)' : '');
  const bar = card.querySelector('.bar');
  bar.setAttribute('aria-valuenow', String(pct));
  bar.setAttribute('aria-label', 'Download of ' + j.repo);
  bar.firstChild.style.width = pct + '%';
  let meta;
  if (j.state === 'running') {
    meta = pct.toFixed(1) + ' % · ' + fmtSize(j.bytes) + ' of ' + fmtSize(j.totalBytes)
      + (j.bytesPerSecond > 0 ? ' · ' + fmtRate(j.bytesPerSecond) : '')
      + (j.etaSeconds !== undefined ? ' · ' + fmtEta(j.etaSeconds) : '')
      + ' · ' + j.filesDone + '/' + j.filesTotal + ' files' + (j.message ? '\n' + j.message : '');
  } else {
    meta = j.message || j.state;
  }
  card.querySelector('.meta').textContent = meta;
  const act = card.querySelector('.act');
  if (j.state === 'running') {
    if (!act.firstChild) {
      act.append(el('button', { class: 'small danger', type: 'button', text: 'Cancel', onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api('ui/api/download/' + encodeURIComponent(j.id) + '/cancel', { json: {} }); }
        catch (e) { status('#download-status', e.message, 'error'); }
      } }));
    }
  } else {
    act.replaceChildren(el('span', { class: 'muted small', text: j.state }));
  }
}

function downloadFinished(j) {
  if (j.state === 'running' || ui.downloadsEnded[j.id]) return;
  ui.downloadsEnded[j.id] = true;
  if (j.state === 'done') {
    status('#download-status', j.message, 'ok');
    log('downloaded ' + j.repo + ' → ' + j.target);
    refreshSoon();
  } else if (j.state === 'failed') {
    status('#download-status', j.message, 'error');
    log('download of ' + j.repo + ' failed: ' + j.message, 'error');
  } else if (j.state === 'cancelled') {
    status('#download-status', j.message, '');
    log('download of ' + j.repo + ' cancelled');
  }
}

async function refreshDownloads() {
  try {
    const r = await api('ui/api/downloads');
    $('#download-start').disabled = !r.available;
    $('#download-list').disabled = !r.available;
    if (!r.available) {
      ui.downloadUnavailable = r.message;
      status('#download-status', r.message, 'error');
      return;
    }
    if ($('#download-status').textContent === ui.downloadUnavailable) status('#download-status', '');
    r.jobs.slice().reverse().forEach((j) => {
      renderJob(j);
      // A job this page watched that ended while the event stream was down (a reconnect) still
      // gets its final word on the status line; older finished jobs are just listed.
      if (j.state !== 'running' && ui.downloadsWatched[j.id]) downloadFinished(j);
      else if (j.state !== 'running') ui.downloadsEnded[j.id] = true;
    });
  } catch (e) { /* the page's own error handling covers an unreachable runtime */ }
}

$('#download-list').addEventListener('click', downloadFileList);
$('#download-start').addEventListener('click', downloadStart);
$('#download-repo').addEventListener('keydown', (e) => { if (e.key === 'Enter') downloadStart(); });
$('#download-file').addEventListener('keydown', (e) => { if (e.key === 'Enter') downloadStart(); });

// ---- Evaluate tab (perplexity) -------------------------------------------------------------

// The model an evaluation without a "model" field runs on: the most recently loaded one.
function evalModel() {
  const st = ui.state;
  return st && st.loaded.length ? st.loaded[st.loaded.length - 1] : null;
}

// Says which model will be evaluated, or why none can be; returns whether one can.
function renderEvalModel() {
  const line = $('#eval-model');
  const m = evalModel();
  const loader = m && loaderInfo(m.loader);
  let ok = false;
  if (!ui.state) {
    line.textContent = '';
  } else if (!m) {
    line.textContent = 'No model is loaded: load a model whose loader exposes logits (llama.cpp, Transformers) on the Model tab.';
    line.className = 'note warn';
  } else if (loader && !loader.capabilities.logits) {
    line.textContent = m.name + ' is loaded with ' + m.loader + ', which exposes no logits: load a model whose loader exposes logits (llama.cpp, Transformers).';
    line.className = 'note warn';
  } else {
    line.textContent = 'Model: ' + m.name + ' (' + m.loader + ', context ' + m.contextLength + ' tokens)';
    line.className = 'note ok';
    ok = true;
  }
  updateEvalButtons(ok);
  return ok;
}

// The models folder for "Evaluate selected models", keeping the selection across refreshes.
function renderEvalModels() {
  const sel = $('#eval-models');
  const st = ui.state;
  if (!st) return;
  const picked = new Set(selectedEvalModels());
  const names = st.models.map((m) => m.name).join('\n');
  if (sel.dataset.names !== names) {
    sel.replaceChildren(...st.models.map((m) => el('option', { value: m.name, text: m.name })));
    sel.dataset.names = names;
  }
  const loaded = new Set(st.loaded.map((m) => m.name));
  for (const o of sel.options) {
    o.selected = picked.has(o.value);
    o.textContent = o.value + (loaded.has(o.value) ? '  ● loaded' : '');
  }
  updateEvalButtons();
}
function selectedEvalModels() { return [...$('#eval-models').selectedOptions].map((o) => o.value); }

function updateEvalButtons(modelOk) {
  const ok = modelOk === undefined ? ui.evalModelOk : modelOk;
  ui.evalModelOk = ok;
  const available = !!(ui.evaluation && ui.evaluation.available);
  $('#eval-start').disabled = !available || !ok || !!ui.evalRunning;
  $('#eval-start-selected').disabled = !available || !!ui.evalRunning || selectedEvalModels().length === 0;
  $('#eval-dataset').disabled = !available;
  $('#eval-refresh').disabled = !available;
}

async function refreshEvaluation() {
  try {
    const r = await api('ui/api/evaluation');
    ui.evaluation = r;
    if (!r.available) {
      ui.evalUnavailable = r.message;
      ui.evalRunning = false;
      status('#eval-status', r.message, 'error');
    } else if ($('#eval-status').textContent === ui.evalUnavailable) {
      status('#eval-status', '');
    }
    renderEvalDatasets(r);
    renderEvalHistory(r.history || []);
    if (r.job) {
      // A job this page watched that ended while the event stream was down still gets its final word.
      if (r.job.state !== 'running' && !ui.evalWatched[r.job.id]) ui.evalEnded[r.job.id] = true;
      renderEvalJob(r.job);
      evalFinished(r.job);
    }
    renderEvalModel();
  } catch (e) { /* the page's own error handling covers an unreachable runtime */ }
}

function renderEvalDatasets(r) {
  $('#eval-datasets-dir').textContent = r.datasetsDir || '–';
  if (r.logFile) $('#eval-log').textContent = r.logFile;
  const sel = $('#eval-dataset');
  const prev = sel.value;
  const names = r.datasets || [];
  sel.replaceChildren(el('option', { value: '', text: names.length ? 'None (paste a text below)' : 'None: no .txt files in the datasets folder' }),
    ...names.map((n) => el('option', { value: n, text: n })));
  sel.value = names.includes(prev) ? prev : '';
}

function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
}
function fmtDataset(name) { return name && name.startsWith('pasted:') ? 'pasted text' : name; }
function fmtPpl(p) { return p === null || p === undefined ? '–' : p.toFixed(p >= 1000 ? 1 : 4); }
const sameEval = (a, b) => a && b && a.model === b.model && a.dataset === b.dataset && a.method === b.method
  && a.stride === b.stride && a.max_length === b.max_length && a.date === b.date;

function renderEvalHistory(rows) {
  ui.evalHistory = rows;
  const mark = ui.evalLast;   // the latest result this page saw, marked in the table
  $('#eval-empty').hidden = rows.length > 0;
  $('#eval-history tbody').replaceChildren(...rows.map((r) => {
    const latest = sameEval(r, mark);
    return el('tr', { class: latest ? 'latest' : '', title: (r.tokens ? r.tokens + ' tokens · ' : '') + r.loader + (r.options ? ': ' + r.options : '') },
      el('td', { class: 'model', 'data-label': 'Model', text: r.model }),
      el('td', { 'data-label': 'Dataset', text: fmtDataset(r.dataset) }),
      el('td', { class: 'ppl', 'data-label': 'Perplexity' }, fmtPpl(r.perplexity),
        latest && mark.from_log ? el('span', { class: 'tag from-log', title: 'This evaluation was already in the log, so it was not run again', text: 'from log' }) : null),
      el('td', { 'data-label': 'Method', text: r.method,
        title: r.method === 'chunks' ? "llama.cpp's perplexity tool" : "text-generation-webui's sliding windows" }),
      el('td', { 'data-label': 'stride', text: r.method === 'chunks' ? '–' : String(r.stride) }),
      el('td', { 'data-label': 'max_length', text: String(r.max_length) }),
      el('td', { class: 'date', 'data-label': 'Date', text: fmtDate(r.date) }),
      el('td', { 'data-label': 'Comment', text: r.comment || '' }));
  }));
}

function renderEvalJob(j) {
  // Events and answers can cross: a job that has ended does not go back to running.
  if (j.state === 'running' && ui.evalEnded[j.id]) return;
  const box = $('#eval-job');
  let card = box.querySelector('.job');
  if (!card || card.dataset.job !== j.id) {
    card = el('div', { class: 'job', 'data-job': j.id },
      el('div', { class: 'head' }, el('span', { class: 'name' }), el('span', { class: 'act' })),
      el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, el('span')),
      el('div', { class: 'meta' }),
      el('div', { class: 'lines' }));
    box.replaceChildren(card);
  }
  if (j.state === 'running') ui.evalWatched[j.id] = true;
  ui.evalRunning = j.state === 'running';
  const pct = Math.round((j.fraction || 0) * 1000) / 10;
  card.className = 'job ' + j.state;
  const several = j.several && j.count > 1;
  card.querySelector('.name').textContent = (several && j.state === 'running' ? 'Model ' + j.index + ' of ' + j.count + ': ' : '')
    + (several && j.state !== 'running' ? j.count + ' models' : j.model) + ' on ' + j.source;
  const bar = card.querySelector('.bar');
  bar.setAttribute('aria-valuenow', String(pct));
  bar.setAttribute('aria-label', 'Evaluation of ' + j.model);
  bar.firstChild.style.width = pct + '%';
  const entries = j.entries || [];
  const okCount = entries.filter((e) => !e.error).length;
  card.querySelector('.meta').textContent = j.state === 'running' && j.phase === 'loading'
    ? 'Loading ' + j.model + (j.loader ? ' with ' + j.loader : '') + '… · ' + j.seconds.toFixed(1) + ' s'
    : several && j.state !== 'running'
      ? okCount + ' of ' + j.count + ' models evaluated' + (entries.length > okCount ? ' · ' + (entries.length - okCount) + ' failed' : '')
        + ' · ' + j.seconds.toFixed(1) + ' s'
    : j.state === 'running'
    ? (j.windowsTotal ? j.windowsDone + ' / ' + j.windowsTotal + ' windows · ' + pct.toFixed(1) + ' %' : 'Tokenizing…')
      + ' · ' + j.seconds.toFixed(1) + ' s'
    : j.state === 'done' && j.result && !j.result.from_log
      ? j.result.windows + ' windows · ' + j.result.tokens + ' tokens · ' + j.result.seconds.toFixed(1) + ' s'
      : j.state === 'done' && j.result ? 'already in the log: not run again'
        : j.windowsTotal ? j.windowsDone + ' / ' + j.windowsTotal + ' windows' : '';
  card.querySelector('.lines').replaceChildren(...(j.lines || []).map((t) => el('div', { class: 'line', text: t })));
  // Each model's result row appears as soon as it is logged, not only at the end of the run.
  if (j.state === 'running' && entries.length > (ui.evalEntries[j.id] || 0)) {
    ui.evalEntries[j.id] = entries.length;
    const last = entries[entries.length - 1];
    if (!last.error) { ui.evalLast = last; refreshEvaluation(); }
  }
  const act = card.querySelector('.act');
  if (j.state === 'running') {
    if (!act.firstChild) {
      act.append(el('button', { class: 'small danger', type: 'button', id: 'eval-cancel', text: 'Cancel', onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const r = await api('ui/api/evaluation/cancel', { json: {} });
          if (!ui.evalEnded[j.id]) status('#eval-status', r.message, 'busy');
        } catch (e) { status('#eval-status', e.message, 'error'); }
      } }));
    }
  } else {
    act.replaceChildren(el('span', { class: 'muted small', text: j.state }));
  }
  updateEvalButtons();
}

function evalFinished(j) {
  if (j.state === 'running' || ui.evalEnded[j.id]) return;
  ui.evalEnded[j.id] = true;
  ui.evalRunning = false;
  if (j.several) {
    const okOnes = (j.entries || []).filter((e) => !e.error);
    if (okOnes.length) ui.evalLast = okOnes[okOnes.length - 1];
    status('#eval-status', j.message || j.state, j.state === 'done' && okOnes.length === j.count ? 'ok'
      : j.state === 'cancelled' ? '' : 'error');
    for (const e of okOnes) log('perplexity of ' + e.model + ' on ' + j.source + ': ' + fmtPpl(e.perplexity) + (e.from_log ? ' (from the log)' : ''));
    for (const l of j.lines || []) log(l, 'error');
    if (j.state === 'cancelled') log('evaluation of ' + j.count + ' models cancelled at ' + j.model);
    refreshEvaluation();
  } else if (j.state === 'done') {
    ui.evalLast = j.result;
    status('#eval-status', j.message, 'ok');
    log('perplexity of ' + j.model + ' on ' + j.source + ': ' + fmtPpl(j.result.perplexity) + (j.result.from_log ? ' (from the log)' : ''));
    refreshEvaluation();
  } else if (j.state === 'failed') {
    status('#eval-status', j.error ? j.error.message + (j.error.fix ? '\n' + j.error.fix : '') : j.message, 'error');
    log('evaluation of ' + j.model + ' failed: ' + (j.error ? j.error.message : j.message), 'error');
  } else if (j.state === 'cancelled') {
    status('#eval-status', j.message, '');
    log('evaluation of ' + j.model + ' cancelled');
  }
  updateEvalButtons();
}

async function evalStart(ev, selected) {
  const text = $('#eval-text').value;
  const dataset = $('#eval-dataset').value;
  const body = { method: $('#eval-method').value, comment: $('#eval-comment').value, force: $('#eval-force').checked };
  const num = (sel, name) => { const v = $(sel).value.trim(); if (v !== '') body[name] = Number(v); };
  num('#eval-stride', 'stride');
  num('#eval-max-length', 'max_length');
  if (selected) body.models = selectedEvalModels();
  if (text.trim()) body.text = text;
  else if (dataset) body.dataset = dataset;
  else {
    status('#eval-status', 'Choose a dataset from ' + ((ui.evaluation && ui.evaluation.datasetsDir) || 'the datasets folder') + ' or paste a text.', 'error');
    return;
  }
  $('#eval-start').disabled = true;
  $('#eval-start-selected').disabled = true;
  status('#eval-status', 'Starting…', 'busy');
  try {
    const j = await api('ui/api/evaluation', { json: body });
    // A short evaluation can end (its event already shown) before this answer arrives.
    if (!ui.evalEnded[j.id]) {
      status('#eval-status', 'Evaluating ' + (j.several && j.count > 1 ? j.count + ' models' : j.model) + ' on ' + j.source + '…', 'busy');
      renderEvalJob(j);
    }
  } catch (e) {
    status('#eval-status', e.message, 'error');
  } finally {
    updateEvalButtons();
  }
}

ui.evalEnded = {};
ui.evalWatched = {};
ui.evalEntries = {};
$('#eval-start').addEventListener('click', (ev) => evalStart(ev, false));
$('#eval-start-selected').addEventListener('click', (ev) => evalStart(ev, true));
$('#eval-models').addEventListener('change', () => updateEvalButtons());
$('#eval-refresh').addEventListener('click', refreshEvaluation);
// llama.cpp's chunks do not overlap: stride has no effect there.
$('#eval-method').addEventListener('change', () => { $('#eval-stride').disabled = $('#eval-method').value === 'chunks'; });

// ---- live events ---------------------------------------------------------------------------

let events = null;
function connectEvents() {
  if (events) events.close();
  events = new EventSource('ui/api/events');
  const conn = $('#conn');
  events.addEventListener('hello', () => {
    conn.textContent = 'live';
    conn.className = 'pill live';
    refreshAll();
    refreshDownloads();
    refreshEvaluation();
  });
  events.addEventListener('model', (ev) => {
    const e = JSON.parse(ev.data);
    const bad = e.type === 'LOAD_FAILED' || e.type === 'LOADER_GONE';
    const own = ['LOADING', 'LOADED', 'LOAD_FAILED'].includes(e.type) && (ui.busy || (ui.ownLoad[e.model] || 0) > Date.now());
    log(e.type.toLowerCase().replace('_', ' ') + (e.model ? ' ' + e.model : '') + (e.loader ? ' [' + e.loader + ']' : '')
      + (e.message ? ': ' + e.message : ''), bad ? 'error' : '');
    // Another page or the API changed the model: say so here too.
    if (own) { /* this page's own load: its answer is already on the status line */ }
    else if (bad) status('#model-status', e.message, 'error');
    else if (e.type === 'UNLOADED' && e.message.startsWith('Unloaded to ')) {
      // An eviction is what a load did to make room: a note after the load's result, never the headline.
      const s = $('#model-status');
      if (!s.textContent.includes(e.model)) s.textContent += (s.textContent ? ' ' : '') + 'Note: unloaded ' + e.model + ' to make room.';
    }
    else if (e.type === 'UNLOADED' && !ui.busy) status('#model-status', 'Unloaded ' + e.model + '. ' + e.message, 'ok');
    else if (e.type === 'LOADING' && !ui.busy) status('#model-status', 'Loading ' + e.model + ' with ' + e.loader + '…', 'busy');
    else if (e.type === 'LORAS_CHANGED' && e.model && !ui.busy) status('#model-status', e.message, 'ok');
    else if (e.type === 'LOADED' && !ui.busy) status('#model-status', 'Loaded ' + e.model + ' with ' + e.loader + ': ' + e.message, 'ok');
    refreshSoon();
  });
  events.addEventListener('download', (ev) => {
    const j = JSON.parse(ev.data);
    renderJob(j);
    downloadFinished(j);
  });
  events.addEventListener('evaluation', (ev) => {
    const j = JSON.parse(ev.data);
    renderEvalJob(j);
    evalFinished(j);
  });
  events.addEventListener('bundle', (ev) => {
    const e = JSON.parse(ev.data);
    if (e.symbolicName === 'io.loadstone.download') setTimeout(refreshDownloads, 300);
    if (e.symbolicName === 'io.loadstone.evaluation') setTimeout(refreshEvaluation, 300);
    if (['INSTALLED', 'STARTED', 'STOPPED', 'UPDATED', 'UNINSTALLED'].includes(e.type)) {
      log('bundle ' + e.type.toLowerCase() + ': ' + e.symbolicName + ' ' + e.version);
    }
    if (!$('#tab-plugins').hidden) refreshPlugins();
    refreshSoon();
  });
  events.onerror = () => {
    conn.textContent = 'reconnecting…';
    conn.className = 'pill down';
  };
}

// ---- start -------------------------------------------------------------------------------

// A phone shows the model picker and its actions; the long options list opens on demand.
if (window.matchMedia('(max-width: 600px)').matches) $('#options-fold').open = false;

showTab(['model', 'generate', 'evaluate', 'plugins'].includes(location.hash.slice(1)) ? location.hash.slice(1) : 'model');
connectEvents();
refreshAll();
