// The mission folder as Factory's droid writes it (state.json `missionId`/`state`, mission.md's
// title, features.json as `{features}` or a bare array, progress lines with `timestamp` and
// droid's event types): the tree and the status bar read it as they read the runner's files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allFeatures, applyEvent, applyMissionMarkdown, applyStateFile, createMission, parseFeaturesFile, setFeatures, summarize } from '../src/missionModel';
import { childrenOf, statusBarView } from '../src/views';

const URI = 'file:///home/user/.factory/missions/4f0c2b8e';
const FEATURES = `${URI}/features.json`;
const feature = (id: string, milestone: string | number, status: string) => ({
  id, description: `${id} does it`, skillName: 'py-worker', preconditions: [], expectedBehavior: ['works'], fulfills: [], milestone, status,
  workerSessionIds: [], currentWorkerSessionId: null, completedWorkerSessionId: null,
});

test('state.json with missionId and state, and the title from mission.md', () => {
  const model = createMission(URI);
  applyMissionMarkdown(model, '\uFEFF# Calculator CLI\n\nA proposal.\n\n# Not the title\n');
  applyStateFile(model, '{\n  "missionId": "mis_4be1c0d2",\n  "state": "orchestrator_turn",\n  "workingDirectory": "/home/user/project",\n  "createdAt": "2026-09-20T09:00:00.000Z",\n  "updatedAt": "2026-09-20T10:58:13.000Z"\n}');
  assert.equal(model.id, 'mis_4be1c0d2');
  assert.equal(model.title, 'Calculator CLI');
  assert.equal(model.status, 'orchestrator_turn');
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) orchestrator turn', 'an orchestrator turn is work under way');
  applyStateFile(model, '{"missionId": "mis_4be1c0d2", "state": "awaiting_input"}');
  assert.equal(statusBarView(summarize(model)).emphasis, 'warning');
});

test('features.json as {features} or as a bare array, a numbered milestone named as a string', () => {
  const wrapped = parseFeaturesFile(JSON.stringify({ features: [feature('calc-add', 'core', 'completed'), feature('calc-div', 2, 'pending')] }, null, 2), FEATURES);
  const bare = parseFeaturesFile(JSON.stringify([feature('calc-add', 'core', 'completed'), feature('calc-div', 2, 'pending')]), FEATURES);
  assert.deepEqual(bare, wrapped);
  assert.deepEqual(wrapped.map((f) => [f.id, f.milestone, f.status]), [['calc-add', 'core', 'completed'], ['calc-div', '2', 'pending']]);
});

test("droid's progress events move features and milestones; a failed worker puts its feature back to pending", () => {
  const model = createMission(URI);
  setFeatures(model, parseFeaturesFile(JSON.stringify({ features: [feature('calc-add', 'core', 'pending'), feature('calc-div', 'core', 'pending')] }), FEATURES));
  const events = [
    { timestamp: '2026-09-20T09:00:00.000Z', type: 'mission_accepted', title: 'Calculator CLI' },
    { timestamp: '2026-09-20T09:01:00.000Z', type: 'mission_run_started' },
    { timestamp: '2026-09-20T09:01:01.000Z', type: 'worker_selected_feature', workerSessionId: 's1', featureId: 'calc-add' },
    { timestamp: '2026-09-20T09:01:02.000Z', type: 'worker_started', workerSessionId: 's1', spawnId: 'worker_0a1b2c3d', featureId: 'calc-add' },
    { timestamp: '2026-09-20T09:20:00.000Z', type: 'worker_completed', workerSessionId: 's1', featureId: 'calc-add', successState: 'success', returnToOrchestrator: false, exitCode: 0 },
    { timestamp: '2026-09-20T09:20:01.000Z', type: 'worker_started', workerSessionId: 's2', spawnId: 'worker_1a1b2c3d', featureId: 'calc-div' },
    { timestamp: '2026-09-20T09:40:00.000Z', type: 'worker_completed', workerSessionId: 's2', featureId: 'calc-div', successState: 'partial', returnToOrchestrator: true, exitCode: 0 },
    { timestamp: '2026-09-20T10:20:45.000Z', type: 'milestone_validation_triggered', milestone: 'core', featureId: 'scrutiny-validator-core' },
  ];
  const reloads = events.map((event) => applyEvent(model, event));
  assert.equal(model.title, 'Calculator CLI');
  assert.equal(model.status, 'validating', "the milestone's validators are due");
  assert.deepEqual(allFeatures(model).map((f) => `${f.id}:${f.status}:${f.handoff ?? ''}`), ['calc-add:completed:success', 'calc-div:pending:partial']);
  assert.equal(model.milestones[0].state, 'validating');
  assert.deepEqual(reloads[7], ['features', 'status'], 'the injected validator features are read from features.json');
  // droid pauses by itself when a feature used up its sessions (no `halted`: that is the runner's mark).
  applyEvent(model, { timestamp: '2026-09-20T10:58:13.000Z', type: 'mission_paused', pauseReason: 'feature_retry_limit_exceeded' });
  assert.equal(model.status, 'paused');
  assert.equal(model.runAlive, false, 'a pause ends the run');
  const [mission] = childrenOf([model]);
  assert.equal(mission.icon, 'warning');
  assert.match(statusBarView(summarize(model)).tooltip, /\nPause reason: feature retry limit exceeded$/);
});

test("a session that ends without a handoff (droid's worker_failed) puts its feature back to pending and counts as failed", () => {
  const model = createMission(URI);
  setFeatures(model, parseFeaturesFile(JSON.stringify([feature('calc-add', 'core', 'in_progress')]), FEATURES));
  assert.deepEqual(applyEvent(model, { timestamp: '2026-09-20T09:30:00.000Z', type: 'worker_failed', workerSessionId: 's1', spawnId: 'worker_no_handoff_s1', exitCode: 0, reason: 'the session ended without calling submit_handoff', failureReason: 'worker_exited_without_handoff', featureId: 'calc-add' }), ['features', 'status']);
  const [add] = allFeatures(model);
  assert.deepEqual([add.status, add.failedSessions, add.lastProblem], ['pending', 1, 'the session ended without calling submit_handoff']);
  const [milestone] = childrenOf([model], childrenOf([model])[0]);
  const [node] = childrenOf([model], milestone);
  assert.deepEqual([node.description, node.icon], ['pending · 1 failed session', 'history']);
  // The runner stops a mission whose feature failed: droid's pause, marked halted, with the reason.
  applyEvent(model, { timestamp: '2026-09-20T09:30:01.000Z', type: 'mission_paused', pauseReason: 'feature_retry_limit_exceeded', halted: true, reason: 'feature calc-add: no handoff twice', featureId: 'calc-add' });
  assert.deepEqual([model.status, model.haltReason, model.pauseReason], ['halted', 'feature calc-add: no handoff twice', 'feature_retry_limit_exceeded']);
  assert.equal(statusBarView(summarize(model)).emphasis, 'error');
});
