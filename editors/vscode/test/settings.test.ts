import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configurationItem, serverSettings } from '../src/settings';

const explicit = (values: Record<string, unknown>) => (key: string) => values[key];

test('settings reach the server in missions.toml\'s shape, only those the person set', () => {
  const settings = serverSettings(explicit({
    'roles.worker.provider': 'openai',
    'roles.worker.baseUrl': 'http://localhost:11434/v1',
    'roles.worker.model': 'qwen2.5-coder:32b',
    'roles.validator.command': ['claude', '-p'],
    'roles.orchestrator.apiKeyEnv': '',
    'limits.maxValidationRounds': 6,
    'limits.maxTokensPerMission': 0,
  }));
  assert.deepEqual(settings, {
    roles: {
      worker: { provider: 'openai', model: 'qwen2.5-coder:32b', base_url: 'http://localhost:11434/v1' },
      validator: { command: ['claude', '-p'] },
    },
    limits: { max_validation_rounds: 6, max_tokens_per_mission: 0 },
  });
  assert.deepEqual(serverSettings(explicit({})), {}, 'nothing set: missions.toml decides everything');
});

test('workspace/configuration items get the section they name', () => {
  const settings = serverSettings(explicit({ 'roles.worker.model': 'm', 'limits.maxTurns': 50 }));
  assert.deepEqual(configurationItem(settings, 'missions'), settings);
  assert.deepEqual(configurationItem(settings, undefined), settings);
  assert.deepEqual(configurationItem(settings, 'missions.roles.worker'), { model: 'm' });
  assert.equal(configurationItem(settings, 'missions.limits.max_turns'), 50);
  assert.equal(configurationItem(settings, 'missions.limits.command_timeout_s'), null);
  assert.equal(configurationItem(settings, 'editor.tabSize'), null);
});
