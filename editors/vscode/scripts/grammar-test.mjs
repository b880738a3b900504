// Runs vscode-tmgrammar-test on grammars/test. The Markdown grammar embeds ~60 languages the
// tests do not load; their "grammar not found" warnings are dropped so failures stay readable.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'node_modules/vscode-tmgrammar-test/dist/unit.js');
const grammars = join(root, 'node_modules/tm-grammars/grammars');
const args = [
  cli,
  '--config', join(root, '../../grammars/test/grammars.json'),
  '-g', join(grammars, 'markdown.json'),
  '-g', join(grammars, 'json.json'),
  join(root, '../../grammars/test/*.test.*'),
];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
let pending = '';
child.stderr.on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (!line.startsWith('grammar not found for')) process.stderr.write(`${line}\n`);
});
child.on('close', (code) => {
  if (pending && !pending.startsWith('grammar not found for')) process.stderr.write(pending);
  process.exit(code ?? 1);
});
