// The official openai npm client, unmodified, against Loadstone's OpenAI-compatible API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startLoadstone } from '../support/loadstone.mjs';

describe('official openai client', () => {
  let srv;
  let client;

  before(async () => {
    srv = await startLoadstone('openai');
    const r = await srv.api('v1/internal/model/load', { model_name: 'echo-story' });
    assert.equal(r.status, 200, r.text);
    client = new OpenAI({ baseURL: srv.base + 'v1', apiKey: 'unused-without-api-key', maxRetries: 0 });
  });

  after(async () => {
    if (srv) await srv.stop();
  });

  test('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['echo-story']);
    const m = await client.models.retrieve('echo-story');
    assert.equal(m.object, 'model');
  });

  test('completions.create', async () => {
    const c = await client.completions.create({ model: 'echo-story', prompt: 'Once', max_tokens: 3 });
    assert.equal(c.choices[0].text, 'the quick brown');
    assert.equal(c.choices[0].finish_reason, 'length');
    assert.equal(c.usage.completion_tokens, 3);
  });

  test('chat.completions.create', async () => {
    const c = await client.chat.completions.create({
      model: 'echo-story', max_tokens: 4, temperature: 0.5,
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello' }],
    });
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, 'the quick brown fox');
  });

  test('streaming chat and completions', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo-story', max_tokens: 5, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Tell me a story' }],
    });
    let text = '';
    let chunks = 0;
    let usage = null;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length) text += chunk.choices[0].delta.content || '';
    }
    assert.equal(text, 'the quick brown fox jumps');
    assert.ok(chunks >= 6, 'one chunk per token, got ' + chunks);
    assert.equal(usage.completion_tokens, 5);

    const s2 = await client.completions.create({ model: 'echo-story', prompt: 'x', max_tokens: 2, stream: true });
    let t2 = '';
    for await (const chunk of s2) t2 += chunk.choices[0].text;
    assert.equal(t2, 'the quick');
  });

  test('errors arrive as the client\'s typed errors', async () => {
    await assert.rejects(client.completions.create({ model: 'gpt-4o', prompt: 'x' }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && /gpt-4o/.test(e.message));
    await assert.rejects(client.completions.create({ model: 'echo-story', prompt: 'x', temperature: 9 }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature');
    await assert.rejects(client.chat.completions.create({ model: 'echo-story', top_p: 0.5,
      messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /does not support top_p/.test(e.message));
  });
});

describe('openai client with an API key', () => {
  let srv;

  before(async () => {
    srv = await startLoadstone('openai-key', ['--api-key', 'sesame'], { headers: { Authorization: 'Bearer sesame' } });
  });

  after(async () => {
    if (srv) await srv.stop();
  });

  test('wrong key is refused with 401, the right one works', async () => {
    const wrong = new OpenAI({ baseURL: srv.base + 'v1', apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const right = new OpenAI({ baseURL: srv.base + 'v1', apiKey: 'sesame', maxRetries: 0 });
    const page = await right.models.list();
    assert.deepEqual(page.data.map((m) => m.id), ['echo-story']);
  });
});
