// Records test/fixtures/ from the real `missions` binary (never written by hand):
//
//   npm run record-fixtures        (MISSIONS_BIN: the binary; default target/debug/missions)
//
// - outline-features.json, outline-contract.json: `textDocument/documentSymbol` of
//   examples/clean's features.json and validation-contract.md, from `missions lsp`.
// - events-completed.jsonl: every `missions/event` the server sent while "Start mission"
//   (`missions.start`) ran the demo's calculator mission (tests/e2e/make-calc-repo) to
//   `mission_completed`, each role set in the editor's settings to the `openai` provider of
//   tests/e2e/fake_model.py, which answers from the demo's recording (as the end-to-end test does).
// - events-halted.jsonl, status-halted.json: the same mission with the editor setting
//   `missions.limits.maxValidationRounds` = 1, so the failed first round of `basics` halts the
//   run; then the server's `missions/status` answer.
// The temporary folder's path becomes /work/demo, so a new recording differs only where the run
// does (ids, times, commits).

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DidChangeConfigurationNotification, DidOpenTextDocumentNotification, DocumentSymbolRequest, ExecuteCommandRequest, ShowMessageNotification } from 'vscode-languageserver-protocol/node';
import type { MissionEventParams } from '../src/protocol';
import { MISSION_EVENT_METHOD, MISSION_STATUS_METHOD } from '../src/protocol';
import { configurationItem, serverSettings } from '../src/settings';
import { fileUri, missionsBinary, REPO, startSession } from './lspHarness';

const FIXTURES = resolve(REPO, 'editors/vscode/test/fixtures');
const CLEAN = resolve(REPO, 'examples/clean');
/** What the temporary folder is called in the fixtures. */
const STABLE_ROOT = '/work/demo';
const FINAL_EVENTS = ['mission_completed', 'mission_paused', 'mission_cancelled'];

const binary = missionsBinary() ?? fail('no missions binary: set MISSIONS_BIN or run `cargo build` first');

function fail(message: string): never {
  throw new Error(message);
}

function write(name: string, text: string): void {
  writeFileSync(resolve(FIXTURES, name), text);
  console.log(`wrote test/fixtures/${name}`);
}

async function recordOutlines(): Promise<void> {
  const session = await startSession(binary, resolve(REPO, 'examples'), () => null);
  try {
    for (const [file, fixture] of [['features.json', 'outline-features.json'], ['validation-contract.md', 'outline-contract.json']] as const) {
      const path = resolve(CLEAN, file);
      const uri = fileUri(path);
      await session.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: file.endsWith('.md') ? 'markdown' : 'json', version: 1, text: readFileSync(path, 'utf8') } });
      const outline = await session.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } });
      if (!outline || outline.length === 0) fail(`no outline for ${path}`);
      write(fixture, `${JSON.stringify(outline, null, 1)}\n`);
    }
  } finally {
    await session.stop();
  }
}

/** Runs the calculator mission through `missions.start`; its events, and the status after it stopped. */
async function recordRun(maxValidationRounds: number | undefined): Promise<{ events: string; status: string }> {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'missions-fixtures-')));
  let stopModel = () => {};
  try {
    const repo = execFileSync(resolve(REPO, 'tests/e2e/make-calc-repo'), [work], { env: { ...process.env, MISSIONS_BIN: binary }, encoding: 'utf8' }).trim();
    const model = spawn('python3', [resolve(REPO, 'tests/e2e/fake_model.py'), '--recording', resolve(REPO, 'server/demo/recording.jsonl'), '--watch-stdin', '--lifetime', '300'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const modelUrl = await new Promise<string>((done, failed) => {
      let seen = '';
      model.stdout.on('data', (chunk) => {
        seen += chunk;
        const url = /http:\/\/127\.0\.0\.1:\d+/.exec(seen);
        if (url) done(url[0]);
      });
      model.once('exit', (code) => failed(new Error(`the fake model exited (${code}): ${seen}`)));
    });
    stopModel = () => model.stdin.end();
    const settings = serverSettings((key) => {
      const role = /^roles\.(\w+)\.(\w+)$/.exec(key);
      if (role) return { provider: 'openai', model: 'fake', baseUrl: `${modelUrl}/${role[1]}/v1` }[role[2]];
      return key === 'limits.maxValidationRounds' ? maxValidationRounds : undefined;
    });
    const session = await startSession(binary, work, (section) => configurationItem(settings, section));
    try {
      const mission = join(repo, '.missions/calc');
      const missionUri = fileUri(mission);
      const events: MissionEventParams[] = [];
      const ended = new Promise<void>((done, failed) => {
        const timer = setTimeout(() => failed(new Error(`the run did not end within 120 s; events: ${events.map((e) => e.event.type).join(', ')}`)), 120_000);
        session.connection.onNotification(MISSION_EVENT_METHOD, (params: MissionEventParams) => {
          events.push(params);
          if (FINAL_EVENTS.includes(params.event.type)) {
            clearTimeout(timer);
            done();
          }
        });
      });
      // As the extension does: the person has mission.md open when they start the mission.
      const missionMd = join(mission, 'mission.md');
      await session.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri: fileUri(missionMd), languageId: 'markdown', version: 1, text: readFileSync(missionMd, 'utf8') } });
      // The settings as the extension pushes them when they change, so the run cannot start
      // before the server's own request for them is answered.
      await session.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: { missions: settings } });
      session.connection.onNotification(ShowMessageNotification.type, (params) => console.log(`server: ${params.message}`));
      const answer = await session.connection.sendRequest(ExecuteCommandRequest.type, { command: 'missions.start', arguments: [missionUri] });
      console.log(`missions.start: ${JSON.stringify(answer)}`);
      await ended;
      const status = await session.connection.sendRequest(MISSION_STATUS_METHOD, { missionUri });
      const stable = (text: string) => text.split(work).join(STABLE_ROOT);
      return {
        events: stable(events.map((e) => JSON.stringify(e)).join('\n') + '\n'),
        status: stable(`${JSON.stringify(status, null, 2)}\n`),
      };
    } finally {
      await session.stop();
    }
  } finally {
    stopModel();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await recordOutlines();
  const completed = await recordRun(undefined);
  if (!completed.events.includes('"type":"mission_completed"')) fail(`the default run did not complete:\n${completed.events}${completed.status}`);
  write('events-completed.jsonl', completed.events);
  const halted = await recordRun(1);
  if (!/"type":"mission_paused".*"halted":true/.test(halted.events)) fail(`the one-round run did not halt:\n${halted.events}${halted.status}`);
  write('events-halted.jsonl', halted.events);
  write('status-halted.json', halted.status);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
