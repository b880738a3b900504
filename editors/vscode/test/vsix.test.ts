// Packages the extension with vsce and checks what the .vsix holds: the bundle, the grammars
// the manifest names, the commands and the settings.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import yauzl from 'yauzl';

const ROOT = resolve(__dirname, '../..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const outDir = mkdtempSync(join(tmpdir(), 'missions-vsix-'));
const vsix = join(outDir, `missions-${manifest.version}.vsix`);
let entries = new Map<string, Buffer>();

function readZip(path: string): Promise<Map<string, Buffer>> {
  return new Promise((done, fail) => {
    const files = new Map<string, Buffer>();
    yauzl.open(path, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return fail(error);
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return fail(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => done(files));
      zip.on('error', fail);
      zip.readEntry();
    });
  });
}

before(async () => {
  // vsce runs vscode:prepublish (the production bundle) and must not prompt for anything.
  execFileSync(process.execPath, [join(ROOT, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--out', vsix], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  entries = await readZip(vsix);
});

after(() => rmSync(outDir, { recursive: true, force: true }));

test('the .vsix holds the bundle, the grammars, the license and nothing of the sources', () => {
  const names = [...entries.keys()].filter((n) => n.startsWith('extension/')).sort();
  assert.deepEqual(names, [
    'extension/LICENSE.txt',
    'extension/dist/extension.js',
    'extension/dist/grammars/missions-json.injection.tmLanguage.json',
    'extension/dist/grammars/missions-markdown.injection.tmLanguage.json',
    'extension/package.json',
    'extension/readme.md',
  ]);
  const bundle = entries.get('extension/dist/extension.js')!.toString('utf8');
  assert.match(bundle, /require\("vscode"\)/, 'vscode stays external');
  assert.doesNotMatch(bundle, /require\("vscode-languageclient/, 'the language client is bundled in, so the package needs no node_modules');
});

test('every grammar the packaged manifest names is in the package, byte for byte from grammars/', () => {
  const packaged = JSON.parse(entries.get('extension/package.json')!.toString('utf8'));
  for (const grammar of packaged.contributes.grammars) {
    const inside = entries.get(`extension/${grammar.path.replace(/^\.\//, '')}`);
    assert.ok(inside, `${grammar.path} is packaged`);
    const source = readFileSync(join(ROOT, '../../grammars', grammar.path.split('/').pop()), 'utf8');
    assert.equal(inside.toString('utf8'), source);
    assert.equal(JSON.parse(source).scopeName, grammar.scopeName);
  }
  assert.deepEqual(packaged.contributes.grammars.map((g: { injectTo: string[] }) => g.injectTo).flat().sort(), ['source.json', 'text.html.markdown']);
  // The server is the one source of diagnostics for mission files: no JSON schema repeats them.
  assert.equal(packaged.contributes.jsonValidation, undefined);
});

test('the packaged manifest contributes the commands, the Mission view and the settings', () => {
  const packaged = JSON.parse(entries.get('extension/package.json')!.toString('utf8'));
  const commands = packaged.contributes.commands.map((c: { command: string }) => c.command);
  for (const id of ['missions.restartServer', 'missions.showLog', 'missions.start', 'missions.approvePlan', 'missions.pause', 'missions.resume', 'missions.cancel', 'missions.runFeature', 'missions.validateMilestone', 'missions.status']) {
    assert.ok(commands.includes(id), `${id} is contributed`);
  }
  assert.equal(packaged.contributes.views.explorer[0].id, 'missions.tree');
  const settings = Object.keys(packaged.contributes.configuration.properties);
  for (const key of ['missions.server.path', 'missions.trace.server', 'missions.roles.worker.baseUrl', 'missions.roles.validator.command', 'missions.limits.maxValidationRounds', 'missions.limits.commandTimeoutS']) {
    assert.ok(settings.includes(key), `${key} is a setting`);
  }
  assert.equal(packaged.main, './dist/extension.js');
});
