// Bundles the extension (and, with --tests, the unit tests) with esbuild, and copies the
// repository's grammars into dist/ because vsce packages only files inside this folder.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

mkdirSync(join(root, 'dist/grammars'), { recursive: true });
for (const name of readdirSync(join(root, '../../grammars'))) {
  if (name.endsWith('.tmLanguage.json')) {
    cpSync(join(root, '../../grammars', name), join(root, 'dist/grammars', name));
  }
}

await build({
  entryPoints: [join(root, 'src/extension.ts')],
  outfile: join(root, 'dist/extension.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
  logLevel: 'warning',
});

if (tests) {
  const outdir = join(root, 'out/test');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: readdirSync(join(root, 'test')).filter((n) => n.endsWith('.test.ts')).map((n) => join(root, 'test', n)),
    outdir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Unit tests cover the modules that do not import vscode; a test that does fails loudly here.
    external: ['yauzl'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}
