// Finding the `missions` binary named by `missions.server.path`. No vscode import.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * The executable the setting names: an absolute or relative path as it is, a bare name looked
 * up on PATH (with PATHEXT on Windows). Undefined when nothing executable is there.
 */
export function findServerBinary(setting: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  const name = setting.trim() || 'missions';
  const extensions = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  if (isAbsolute(name) || name.includes('/') || name.includes('\\')) {
    return extensions.map((ext) => name + ext).find(isExecutableFile);
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const found = extensions.map((ext) => join(dir, name + ext)).find(isExecutableFile);
    if (found) return found;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingServerMessage(setting: string): string {
  return (
    `The missions language server was not found ("${setting}"). ` +
    'Install it with `cargo install --path server --locked` from a clone of the missions repository ' +
    '(or build it with `cargo build --release` and set "missions.server.path" to target/release/missions), ' +
    'then run "Missions: Restart server".'
  );
}
