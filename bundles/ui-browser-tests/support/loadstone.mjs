// Starts a real Loadstone (the exported runnable jar) in a fresh home folder on a free
// 127.0.0.1 port, with an echo model in models/ and the echo test loader in plugins/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const TARGET = process.env.LOADSTONE_TARGET || path.resolve('target');
const JAR = process.env.LOADSTONE_JAR || path.join(TARGET, 'ui-test.jar');
const JAVA = process.env.LOADSTONE_JAVA || 'java';
const BUNDLES = process.env.LOADSTONE_TEST_BUNDLES || path.join(TARGET, 'test-bundles');
export const ECHO_JAR = path.join(BUNDLES, 'itest-loader.jar');
export const SCREENSHOTS = path.join(TARGET, 'screenshots');
export const TEXT = 'the quick brown fox jumps over the lazy dog';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; fails with what after timeoutMs. */
export async function until(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error('Timed out waiting for ' + what + (last ? ': ' + last.message : ''));
    await sleep(100);
  }
}

export async function startLoadstone(name, extraArgs = [], { headers = {} } = {}) {
  if (!fs.existsSync(JAR)) throw new Error('Missing ' + JAR + ': build with mvn package first');
  const home = path.join(TARGET, 'homes', name + '-' + process.pid + '-' + Date.now());
  fs.mkdirSync(path.join(home, 'models', 'echo-story'), { recursive: true });
  fs.mkdirSync(path.join(home, 'plugins'), { recursive: true });
  fs.writeFileSync(path.join(home, 'models', 'echo-story', 'echo-model.txt'), TEXT);
  fs.copyFileSync(ECHO_JAR, path.join(home, 'plugins', 'itest-loader.jar'));
  const port = await freePort();
  const logFile = path.join(home, 'loadstone.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(JAVA, ['--enable-native-access=ALL-UNNAMED', '--add-modules=jdk.incubator.vector',
    '--sun-misc-unsafe-memory-access=allow', '-jar', JAR, '--port', String(port), ...extraArgs],
  { cwd: home, stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const base = 'http://127.0.0.1:' + port + '/';
  const tail = () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  try {
    await until('Loadstone on ' + base + ' with the echo loader', async () => {
      if (exited !== null) throw new Error('Loadstone exited with ' + exited);
      const r = await fetch(base + 'ui/api/state', { headers });
      if (!r.ok) return false;
      const st = await r.json();
      return st.loaders.some((l) => l.id === 'itest-echo');
    }, 60000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(e.message + '\n--- log ---\n' + tail());
  }
  return {
    base, home, port, logFile,
    async api(p, body, extraHeaders = {}) {
      const r = await fetch(base + p, body === undefined ? { headers: { ...headers, ...extraHeaders } } : {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...headers, ...extraHeaders }, body: JSON.stringify(body),
      });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
      return { status: r.status, json, text };
    },
    async stop() {
      if (exited !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await done;
      clearTimeout(t);
    },
  };
}

/**
 * Waits until the element matching `sel` on page `p` shows `want`; on a timeout the error says
 * what the element did show (a bare timeout makes a rare failure undiagnosable).
 */
export async function waitForText(p, sel, want, timeout = 20000) {
  try {
    await p.waitForFunction(([s, w]) => {
      const e = document.querySelector(s);
      return e && e.textContent.includes(w);
    }, [sel, want], { timeout });
  } catch (e) {
    const shown = await p.evaluate((s) => { const x = document.querySelector(s); return x ? x.textContent : '(no element)'; }, sel)
      .catch(() => '(page gone)');
    throw new Error(sel + ' never showed "' + want + '"; it shows "' + shown + '" (' + e.message.split('\n')[0] + ')');
  }
}

/** Installs a bundle jar through File Install: copied beside plugins/ and renamed in, so it never sees a half-written jar. */
export function dropPlugin(home, jarPath) {
  const name = path.basename(jarPath);
  fs.copyFileSync(jarPath, path.join(home, name));
  fs.renameSync(path.join(home, name), path.join(home, 'plugins', name));
}
