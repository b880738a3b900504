import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reload } from '../src/missionModel';
import { allFeatures, applyEvent, applyServerStatus, applyValidationState, createMission, parseFeaturesFile, summarize } from '../src/missionModel';
import { sameMissionUri } from '../src/protocol';
import { eventStream, example, MISSION_URI, recordedStatus, seededCleanMission } from './fixtures';

test('seeding from the server outlines and the mission files gives milestones, features and assertions with statuses', () => {
  const model = seededCleanMission();
  assert.equal(model.title, 'Link shortener with auth and analytics');
  assert.equal(model.status, 'running');
  assert.deepEqual(model.milestones.map((m) => m.name), ['foundation', 'analytics', 'dashboard']);
  assert.deepEqual(model.milestones.map((m) => m.state), ['passed', 'running', 'pending'], 'state.json names analytics as the current milestone');
  const byId = new Map(allFeatures(model).map((f) => [f.id, f]));
  assert.equal(byId.get('feat-stats-api')?.status, 'in_progress');
  assert.equal(byId.get('feat-dashboard-list')?.status, 'pending');
  assert.deepEqual(byId.get('feat-auth-accounts')?.place?.uri, `${MISSION_URI}/features.json`);
  assert.ok(byId.get('feat-auth-accounts')?.place?.range, 'features carry the range of their id');
  assert.equal(model.assertions.length, 22);
  assert.equal(model.assertions.find((a) => a.id === 'VAL-AUTH-001')?.area, 'Auth');
  assert.equal(model.assertions.filter((a) => a.status === 'passed').length, 11);
  assert.deepEqual(summarize(model), { title: model.title, status: 'running', stalled: false, currentMilestone: 'analytics', round: 0, haltReason: undefined, passed: 11, total: 22 });
});

test('a recorded planning stream walks the mission from created to running its first feature', () => {
  const model = createMission(MISSION_URI);
  const statuses: Array<string | undefined> = [];
  const reloads: Reload[][] = [];
  for (const { event } of eventStream('events-planning.jsonl')) {
    reloads.push(applyEvent(model, event));
    statuses.push(model.status);
  }
  assert.deepEqual(statuses, ['planning', 'planning', 'awaiting_answers', 'planning', 'planning', 'planning', 'awaiting_approval', 'running', 'running', 'running']);
  assert.deepEqual(reloads[4], ['contract', 'status'], 'contract_written asks for the contract again');
  assert.deepEqual(reloads[5], ['features', 'status'], 'features_written asks for the features again');
  assert.equal(model.id, 'mis_0b5e11a7');
  assert.equal(model.title, 'Link shortener');
  assert.equal(model.currentMilestone, 'foundation');
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state, m.features.map((f) => `${f.id}:${f.status}`)]), [['foundation', 'running', ['feat-project-skeleton:in_progress']]]);
});

test('a recorded halting stream fails a round, adds a fix feature under its milestone and halts with the reason', () => {
  const model = seededCleanMission();
  const reloads = new Set<Reload>();
  for (const { event } of eventStream('events-halted.jsonl')) applyEvent(model, event).forEach((r) => reloads.add(r));
  const analytics = model.milestones.find((m) => m.name === 'analytics')!;
  assert.equal(analytics.state, 'failed');
  assert.equal(analytics.round, 1);
  assert.deepEqual(analytics.features.map((f) => `${f.id}:${f.status}`), ['feat-click-recording:completed', 'feat-stats-api:completed', 'fix-analytics-1-referrer-null:failed']);
  const fix = analytics.features[2];
  assert.equal(fix.handoff, 'blocked');
  assert.match(fix.failureReason ?? '', /no referrer column/);
  assert.equal(model.status, 'halted');
  assert.match(model.haltReason ?? '', /^feature fix-analytics-1-referrer-null blocked/);
  assert.deepEqual([...reloads].sort(), ['features', 'status', 'validation'], 'a round result makes validation-state.json and the status stale');
});

test('the log of examples/clean (older validation_round fields) replays to the state its state.json records', () => {
  const model = createMission(MISSION_URI);
  for (const line of example('progress_log.jsonl').split('\n').filter(Boolean)) applyEvent(model, JSON.parse(line));
  assert.equal(model.status, 'running');
  assert.equal(model.currentMilestone, 'analytics');
  const foundation = model.milestones.find((m) => m.name === 'foundation')!;
  assert.equal(foundation.state, 'passed');
  assert.equal(foundation.round, 2);
  assert.ok(foundation.features.some((f) => f.id === 'fix-foundation-1-slug-case' && f.status === 'completed'));
  assert.equal(allFeatures(model).find((f) => f.id === 'feat-stats-api')?.status, 'in_progress');
});

test('a missions/status answer sets the state and its counts win over the tree', () => {
  const model = seededCleanMission();
  applyServerStatus(model, recordedStatus());
  const summary = summarize(model);
  assert.equal(summary.status, 'halted');
  assert.equal(summary.round, 1);
  assert.equal(summary.passed, 15);
  assert.equal(summary.total, 22);
  assert.match(summary.haltReason ?? '', /referrer/);
});

test('the runner\'s rounds and passed milestones in validation-state.json mark milestones', () => {
  const model = seededCleanMission();
  applyValidationState(model, JSON.stringify({ assertions: { 'VAL-STATS-001': { status: 'failed' } }, rounds: { analytics: 3 }, passedMilestones: ['dashboard'] }));
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state, m.round]), [['foundation', 'passed', 0], ['analytics', 'running', 3], ['dashboard', 'passed', 0]]);
  assert.equal(model.assertions.find((a) => a.id === 'VAL-STATS-001')?.status, 'failed');
  assert.equal(model.assertions.find((a) => a.id === 'VAL-AUTH-001')?.status, 'pending', 'an assertion the file does not list is pending');
});

test('unknown events change nothing and ask for nothing', () => {
  const model = seededCleanMission();
  const before = JSON.stringify({ ...model, lastEvent: undefined });
  assert.deepEqual(applyEvent(model, { ts: '2025-06-02T15:00:00Z', type: 'agent_mood_changed', mood: 'calm' }), []);
  assert.equal(JSON.stringify({ ...model, lastEvent: undefined }), before);
});

test('features.json that does not parse yields no features instead of throwing', () => {
  assert.deepEqual(parseFeaturesFile('{"features": [ {"id": "a", ', 'file:///m/features.json'), []);
  assert.deepEqual(parseFeaturesFile('\uFEFF{"features":[{"id":"a","milestone":"m","status":"completed","description":"one\\ntwo"}]}', 'file:///m/features.json'), [
    { id: 'a', milestone: 'm', description: 'one', status: 'completed', place: { uri: 'file:///m/features.json' } },
  ]);
});

test('mission URIs match however they are spelled', () => {
  assert.ok(sameMissionUri('file:///work/a%20b/.missions/x/', 'file:///work/a b/.missions/x'));
  assert.ok(!sameMissionUri('file:///work/x', 'file:///work/xy'));
});
