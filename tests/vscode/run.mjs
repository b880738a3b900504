// The extension in a real VS Code (code-server, VS Code 1.96), driven through headless Chromium
// as a person would: the packaged .vsix installed with --install-extension, a workspace with a
// mission folder written in droid's format (tests/e2e/fixtures/notes) and the demo's calculator
// repository with a new mission (tests/e2e/make-calc-repo), the roles pointed at the fake model
// on 127.0.0.1 (tests/e2e/fake_model.py) in the user settings.
// Checks: diagnostics in the Problems panel (once each), a hover's title, a code lens, a quick
// fix, the Mission view's milestones, and "Missions: Start mission" through to the completion
// message, with the milestones' rounds and the fix feature and validators in the Mission view.
// On a failure every step's screenshot and the logs go to target/e2e/vscode-failure/.
// Started by tests/vscode/run.sh, which installs and passes CODE_SERVER, CHROMIUM, VSIX, DRIVER
// and MISSIONS_BIN.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const E2E = join(ROOT, 'target/e2e');
const env = (name) => process.env[name] || fail(`${name} is not set; run tests/vscode/run.sh`);
const puppeteer = createRequire(join(env('DRIVER'), 'package.json'))('puppeteer-core');

function fail(message) {
  throw new Error(message);
}

const started = Date.now();
// What an earlier failed run left for inspection goes now.
for (const name of readdirSync(E2E)) if (name.startsWith('vscode-run-') || name === 'vscode-failure') rmSync(join(E2E, name), { recursive: true, force: true });
const work = mkdtempSync(join(E2E, 'vscode-run-'));
const ws = join(work, 'ws');
const children = [];
const shots = [];
let page;
let browser;
let passed = 0;

/** Runs one check; its screenshot is kept for the failure report. */
async function step(name, body) {
  const t0 = Date.now();
  try {
    await body();
  } finally {
    if (page) shots.push({ name, png: await page.screenshot().catch(() => undefined) });
  }
  passed += 1;
  console.log(`ok ${passed} - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Polls `probe` (run in the page) until `accept` takes its value; the last value in the error. */
async function until(what, probe, accept = Boolean, timeout = 30_000, ...args) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(probe, ...args).catch((e) => `(${e.message})`);
    if (accept(last)) return last;
    await sleep(250);
  }
  fail(`${what}: not within ${timeout / 1000} s; last seen: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

const sleep = (ms) => new Promise((wake) => setTimeout(wake, ms));
function texts(selector) {
  return [...document.querySelectorAll(selector)].map((e) => e.textContent.replace(/\s+/g, ' ').trim());
}
/** The rows of the Explorer's Mission view. */
const missionRows = () => [...document.querySelectorAll('.pane')].filter((p) => /^mission$/i.test(p.querySelector('.pane-header .title')?.textContent.trim() ?? '')).flatMap((p) => [...p.querySelectorAll('.monaco-list-row')]).map((e) => e.textContent.replace(/\s+/g, ' ').trim());

function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...options });
  children.push(child);
  return child;
}

/** The first line a process prints that matches `pattern`. */
function lineMatching(child, pattern, what, timeout = 60_000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeout / 1000} s:\n${seen}`)), timeout);
    const look = (data) => {
      seen += data;
      const match = seen.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}):\n${seen}`)));
  });
}

/** Types into the quick input (palette, quick open) and takes the entry whose label matches. */
async function quickPick(keys, query, label) {
  await page.keyboard.press('Escape');
  for (const k of keys) await page.keyboard.down(k);
  for (const k of [...keys].reverse()) await page.keyboard.up(k);
  await page.waitForSelector('.quick-input-widget .quick-input-box input', { visible: true, timeout: 10_000 });
  await page.keyboard.type(query, { delay: 5 });
  await until(`"${label}" in the quick input`, (wanted) => [...document.querySelectorAll('.quick-input-list .monaco-list-row')].some((r) => r.getAttribute('aria-label')?.includes(wanted)), Boolean, 15_000, label);
  await page.evaluate((wanted) => {
    const row = [...document.querySelectorAll('.quick-input-list .monaco-list-row')].find((r) => r.getAttribute('aria-label')?.includes(wanted));
    row.click();
  }, label);
}

const runCommand = (title) => quickPick(['F1'], title, title);
const openFile = (relative) => quickPick(['Control', 'p'], relative, relative.split('/').pop());

/** Opens a file through the Explorer, folder by folder (quick open skips git-excluded folders). */
async function openInExplorer(path) {
  await runCommand('View: Show Explorer');
  for (const [index, name] of path.entries()) {
    const selector = `.explorer-folders-view .monaco-list-row[aria-level="${index + 1}"]`;
    await until(`"${name}" in the Explorer`, (sel, n) => [...document.querySelectorAll(sel)].some((r) => r.textContent.trim() === n), Boolean, 10_000, selector, name);
    const expanded = await page.evaluate((sel, n) => {
      const row = [...document.querySelectorAll(sel)].find((r) => r.textContent.trim() === n);
      const open = row.getAttribute('aria-expanded') === 'true';
      if (!open) row.click();
      return open;
    }, selector, name);
    if (!expanded) await sleep(300);
  }
}

/** Waits for the editor of `name` to be the active one, its text rendered. */
async function activeEditor(name) {
  await until(`${name} open in the editor`, (n) => document.querySelector('.tab.active')?.getAttribute('aria-label')?.startsWith(n) && document.querySelector('.editor-instance .view-lines')?.textContent.length > 0, Boolean, 15_000, name);
}

/** The screen box of the first rendered occurrence of `text` in the active editor (line `nth`). */
async function boxOf(text, nth = 0) {
  const found = await page.evaluate((wanted, n) => {
    const lines = [...document.querySelectorAll('.editor-instance .view-lines .view-line')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
    const hits = lines.filter((l) => l.textContent.includes(wanted));
    const line = hits[n];
    if (!line) return undefined;
    // Walk the line's text nodes to the character range of the match.
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    const at = line.textContent.indexOf(wanted);
    let offset = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const len = node.textContent.length;
      if (offset + len > at) {
        const range = document.createRange();
        range.setStart(node, at - offset);
        range.setEnd(node, Math.min(len, at - offset + wanted.length));
        const r = range.getBoundingClientRect();
        return { x: r.left, y: r.top, width: r.width, height: r.height };
      }
      offset += len;
    }
    return undefined;
  }, text, nth);
  return found ?? fail(`"${text}" is not on screen in the active editor`);
}

/** Puts the cursor inside `text` (clicking it) in the active editor. */
async function clickInto(text, nth = 0, into = 3) {
  const box = await boxOf(text, nth);
  await page.mouse.click(box.x + Math.min(box.width - 1, into * (box.width / text.length)) + 1, box.y + box.height / 2);
}

const PROBLEMS = '.markers-panel .monaco-list-row';

async function main() {
  const bin = env('MISSIONS_BIN');
  // The workspace: a plan in droid's format, and a repository whose mission is not planned yet.
  cpSync(join(ROOT, 'tests/e2e/fixtures/notes'), join(ws, 'notes'), { recursive: true });
  execFileSync(join(ROOT, 'tests/e2e/make-calc-repo'), [ws], { env: { ...process.env, MISSIONS_BIN: bin }, stdio: ['ignore', 'ignore', 'inherit'] });

  const model = start('python3', [join(ROOT, 'tests/e2e/fake_model.py'), '--recording', join(ROOT, 'server/demo/recording.jsonl'), '--watch-stdin', '--lifetime', '600', '--log', join(work, 'fake-model.log')]);
  const [modelUrl] = await lineMatching(model, /http:\/\/127\.0\.0\.1:\d+/, 'the fake model');

  const userData = join(work, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  const role = (name) => ({
    [`missions.roles.${name}.provider`]: 'openai',
    [`missions.roles.${name}.model`]: 'fake',
    [`missions.roles.${name}.baseUrl`]: `${modelUrl}/${name}/v1`,
  });
  writeFileSync(join(userData, 'User/settings.json'), JSON.stringify({
    'missions.server.path': bin,
    ...role('orchestrator'),
    ...role('worker'),
    ...role('validator'),
    'missions.limits.maxTurns': 30,
    'missions.limits.maxValidationRounds': 3,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'editor.hover.delay': 200,
    'editor.minimap.enabled': false,
    'explorer.compactFolders': false,
    'workbench.editor.enablePreview': false,
  }, null, 2));
  const extensions = join(work, 'extensions');
  const codeServer = env('CODE_SERVER');
  const isolated = { ...process.env, XDG_CONFIG_HOME: join(work, 'config'), XDG_DATA_HOME: join(work, 'data'), XDG_CACHE_HOME: join(work, 'cache') };
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];

  await step('the packaged .vsix installs with --install-extension', async () => {
    const out = execFileSync(process.execPath, [codeServer, ...common, '--install-extension', env('VSIX')], { env: isolated, encoding: 'utf8', timeout: 120_000 });
    if (!/successfully installed/i.test(out)) fail(`install said: ${out}`);
  });

  const server = start(process.execPath, [codeServer, ...common, '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened', ws], { env: isolated });
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  const [, url] = await lineMatching(server, /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/, 'code-server');
  children.serverLog = () => serverLog;

  browser = await puppeteer.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    userDataDir: join(work, 'chromium'),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--window-size=1600,1000'],
    defaultViewport: { width: 1600, height: 1000 },
  });
  page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  children.consoleErrors = consoleErrors;
  await page.goto(`${url}/?folder=${encodeURIComponent(ws)}`, { waitUntil: 'domcontentloaded' });

  await step('VS Code opens the workspace and the extension shows the Mission view', async () => {
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await until('the Mission view in the Explorer', texts, (t) => t.some((s) => /^mission$/i.test(s)), 60_000, '.pane-header .title');
  });

  await step('diagnostics appear in the Problems panel, once each (no JSON schema repeats them)', async () => {
    await openFile('notes/features.json');
    await activeEditor('features.json');
    await runCommand('View: Focus Problems');
    const rows = await until('the server\'s diagnostics in the Problems panel', texts, (r) => r.some((t) => t.includes('VAL-NOTES-009')) && r.some((t) => t.includes('VAL-NOTES-003')), 30_000, PROBLEMS);
    const unknown = rows.filter((t) => t.includes('VAL-NOTES-009'));
    if (unknown.length !== 1 || !/is not an assertion of the validation contract/.test(unknown[0]) || !/missions/.test(unknown[0])) fail(`one unknown-assertion error from missions expected: ${JSON.stringify(rows)}`);
    if (!rows.some((t) => /VAL-NOTES-003. is not claimed by any feature/.test(t))) fail(`the contract's unclaimed warning is missing: ${JSON.stringify(rows)}`);
    if (rows.some((t) => /\bjson\b\(|schema/i.test(t))) fail(`a JSON schema repeats the server: ${JSON.stringify(rows)}`);
  });

  await step('a hover on an assertion id shows its title', async () => {
    await openFile('notes/features.json');
    await activeEditor('features.json');
    // The mouse rests on the id, as a person's would; moved off and back if the first rest was early.
    const hover = () => [...document.querySelectorAll('.monaco-hover')].some((e) => e.textContent.includes('VAL-NOTES-001') && e.textContent.includes('Adding a note'));
    for (let attempt = 1; ; attempt++) {
      const box = await boxOf('VAL-NOTES-001');
      await page.mouse.move(box.x - 40, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 8 });
      try {
        await until('the hover with the title', hover, Boolean, 5_000);
        break;
      } catch (error) {
        if (attempt === 4) throw error;
      }
    }
    await page.mouse.move(5, 5);
  });

  await step('a code lens shows who claims an assertion', async () => {
    await openFile('notes/validation-contract.md');
    await activeEditor('validation-contract.md');
    await until('the claim lens', texts, (t) => t.some((s) => s.includes('claimed by notes-add')), 30_000, '.codelens-decoration');
  });

  await step('the id under the cursor highlights whole, not just the word `001`', async () => {
    await clickInto('VAL-NOTES-001', 0, 11);
    const id = await boxOf('VAL-NOTES-001');
    await until('a highlight as wide as the id', () => [...document.querySelectorAll('.editor-instance .view-overlays [class*="wordHighlight"]')].map((e) => e.getBoundingClientRect().width), (w) => w.some((width) => Math.abs(width - id.width) < 2), 10_000);
  });

  await step('a quick fix claims the unclaimed assertion, and its warning goes', async () => {
    await clickInto('VAL-NOTES-003', 0, 4);
    await until('the light bulb', () => document.querySelector('.lightBulbWidget, .codicon-light-bulb, .codicon-lightbulb-autofix') !== null, Boolean, 15_000);
    await page.keyboard.down('Control');
    await page.keyboard.press('Period');
    await page.keyboard.up('Control');
    const offered = await until('the quick fixes', texts, (t) => t.some((s) => s.startsWith('Claim in feature')), 15_000, '.action-widget .monaco-list-row');
    await page.evaluate(() => [...document.querySelectorAll('.action-widget .monaco-list-row')].find((r) => r.textContent.includes('Claim in feature')).click());
    await runCommand('View: Focus Problems');
    await until('the warning to go', texts, (r) => !r.some((t) => t.includes('VAL-NOTES-003')) && r.some((t) => t.includes('VAL-NOTES-009')), 20_000, PROBLEMS);
    const claimed = offered.find((s) => s.startsWith('Claim in feature')).match(/`([^`]+)`/)?.[1];
    await openFile('notes/features.json');
    await activeEditor('features.json');
    await until(`the claim in ${claimed}'s fulfills`, texts, (t) => t.join('\n').includes('"VAL-NOTES-003"'), 10_000, '.editor-instance .view-line');
  });

  await step('the Mission view lists the missions and their milestones', async () => {
    await runCommand('Explorer: Focus on Mission View');
    const rows = await until('the milestones of notes', missionRows, (t) => t.some((s) => s.startsWith('core')) && t.some((s) => s.startsWith('cleanup')), 20_000);
    // The calculator's mission is named by its state.json until it is planned.
    if (!rows.some((s) => s.startsWith('notes')) || !rows.some((s) => s.startsWith('A shell calculator'))) fail(`both missions expected: ${JSON.stringify(rows)}`);
  });

  await step('"Missions: Start mission" plans and runs the calculator mission to the completion message', async () => {
    await openInExplorer(['calc', '.missions', 'calc', 'mission.md']);
    await activeEditor('mission.md');
    await runCommand('Missions: Start mission');
    await until('the completion message', texts, (t) => t.some((s) => /mission mis_\w+ completed: every assertion passed/.test(s)), 240_000, '.notifications-toasts .notification-list-item-message, .notifications-center .notification-list-item-message');
    await until('the status bar', texts, (t) => t.some((s) => /completed · 3\/3/.test(s)), 20_000, '.statusbar-item');
    await runCommand('Explorer: Focus on Mission View');
    // The view's list draws only the rows in sight: fold the other mission away.
    await page.evaluate(() => [...document.querySelectorAll('.pane .monaco-list-row[aria-expanded="true"]')].find((r) => r.textContent.trim().startsWith('notes'))?.click());
    // The demo's recording fails the first round of basics: a fix, then a second round.
    await until('the calc milestones, passed', missionRows, (t) => t.some((s) => /^basics\s*passed · round 2 · 3\/3 features/.test(s)) && t.some((s) => /^more\s*passed · round 1 · 1\/1 features/.test(s)), 20_000);
    await page.evaluate(() => [...document.querySelectorAll('.pane .monaco-list-row')].find((r) => r.textContent.trim().startsWith('basics'))?.querySelector('.monaco-tl-twistie')?.click());
    await until('the fix and the validators of basics', missionRows, (t) => t.some((s) => /^fix-sub-order\s*completed · fix/.test(s)) && t.some((s) => /^scrutiny-validator-basics\s*completed · validator/.test(s)), 20_000);
  });
}

let failure;
try {
  await main();
} catch (error) {
  failure = error;
} finally {
  if (failure) {
    const out = join(E2E, 'vscode-failure');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    shots.forEach((s, i) => s.png && writeFileSync(join(out, `${String(i + 1).padStart(2, '0')}-${s.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`), s.png));
    writeFileSync(join(out, 'code-server.log'), children.serverLog?.() ?? '');
    writeFileSync(join(out, 'browser-console-errors.log'), (children.consoleErrors ?? []).join('\n'));
    for (const log of ['fake-model.log']) {
      try {
        cpSync(join(work, log), join(out, log));
      } catch {
        // not started
      }
    }
    console.error(`not ok - ${failure.stack ?? failure}\nscreenshots and logs: ${out}`);
  }
  await browser?.close().catch(() => undefined);
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
  await sleep(500);
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (!failure) rmSync(work, { recursive: true, force: true });
  console.log(`\nvscode: ${passed} passed, ${failure ? 1 : 0} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  process.exit(failure ? 1 : 0);
}
