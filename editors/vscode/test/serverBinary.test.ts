import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findServerBinary, missingServerMessage } from '../src/serverBinary';

const dir = mkdtempSync(join(tmpdir(), 'missions-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const executable = join(dir, 'missions');
writeFileSync(executable, '#!/bin/sh\n');
chmodSync(executable, 0o755);
const notExecutable = join(dir, 'plain');
writeFileSync(notExecutable, '');

test('a bare name is looked up on PATH', () => {
  assert.equal(findServerBinary('missions', { PATH: `/nonexistent:${dir}` }, 'linux'), executable);
  assert.equal(findServerBinary('', { PATH: dir }, 'linux'), executable, 'an empty setting means the default name');
  assert.equal(findServerBinary('missions', { PATH: '/nonexistent' }, 'linux'), undefined);
});

test('a path is taken as it is, and must be an executable file', () => {
  assert.equal(findServerBinary(executable, { PATH: '' }, 'linux'), executable);
  assert.equal(findServerBinary(notExecutable, { PATH: '' }, 'linux'), undefined);
  assert.equal(findServerBinary(dir, { PATH: '' }, 'linux'), undefined, 'a directory is not a server');
});

test('the missing-server message says how to install it and which setting to change', () => {
  const message = missingServerMessage('missions');
  assert.match(message, /cargo install --path server --locked/);
  assert.match(message, /"missions\.server\.path"/);
  assert.match(message, /Restart server/);
});
