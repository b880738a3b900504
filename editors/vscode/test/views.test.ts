import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEvent, applyServerStatus, createMission, summarize } from '../src/missionModel';
import type { TreeNode } from '../src/views';
import { childrenOf, statusBarView } from '../src/views';
import { eventStream, MISSION_URI, recordedStatus, seededCleanMission } from './fixtures';

function outline(nodes: TreeNode[]): string[] {
  return nodes.map((n) => `${n.label} | ${n.description} | ${n.icon}`);
}

test('the tree shows the mission, its milestones with features, and the assertions with their statuses', () => {
  const models = [seededCleanMission()];
  const [mission] = childrenOf(models);
  assert.deepEqual(outline([mission]), ['Link shortener with auth and analytics | running · 11/22 | sync~spin']);
  const level2 = childrenOf(models, mission);
  assert.deepEqual(outline(level2), [
    'foundation | passed · 6/6 features | pass',
    'analytics | running · 1/2 features | sync~spin',
    'dashboard | pending · 0/3 features | circle-outline',
    'Assertions | 11/22 passed | circle-outline',
  ]);
  assert.deepEqual(outline(childrenOf(models, level2[1])), ['feat-click-recording | completed | pass', 'feat-stats-api | in progress | sync~spin']);
  const assertions = childrenOf(models, level2[3]);
  assert.equal(assertions.length, 22);
  assert.deepEqual(outline(assertions.slice(0, 2)), ['VAL-OPS-001 | passed · Service builds and answers the health check | pass', 'VAL-AUTH-001 | passed · Sign up with email and password | pass']);
});

test('every feature and assertion opens its id in the document the server outlined', () => {
  const models = [seededCleanMission()];
  const [mission] = childrenOf(models);
  const level2 = childrenOf(models, mission);
  const feature = childrenOf(models, level2[0])[0];
  assert.equal(feature.kind, 'feature');
  assert.equal(feature.name, 'feat-project-skeleton');
  assert.equal(feature.target?.uri, `${MISSION_URI}/features.json`);
  assert.deepEqual(feature.target?.range, { start: { line: 3, character: 13 }, end: { line: 3, character: 34 } });
  const assertion = childrenOf(models, level2[3])[1];
  assert.equal(assertion.target?.uri, `${MISSION_URI}/validation-contract.md`);
  assert.equal(assertion.target?.range?.start.line, 19, 'line 20 of the contract, 0-based');
});

test('after the recorded halting stream the tree shows the failed round, the failed fix feature and why', () => {
  const models = [seededCleanMission()];
  for (const { event } of eventStream('events-halted.jsonl')) applyEvent(models[0], event);
  const [mission] = childrenOf(models);
  assert.equal(mission.description, 'halted · 11/22');
  assert.equal(mission.icon, 'error');
  assert.match(mission.tooltip ?? '', /Halted: feature fix-analytics-1-referrer-null blocked/);
  const analytics = childrenOf(models, mission)[1];
  assert.equal(analytics.description, 'failed · round 1 · 2/3 features');
  const fix = childrenOf(models, analytics)[2];
  assert.deepEqual([fix.label, fix.description, fix.icon], ['fix-analytics-1-referrer-null', 'failed', 'error']);
  assert.equal(fix.target, undefined, 'a fix feature known only from events has no place until features.json is read again');
  assert.match(fix.tooltip ?? '', /last handoff: blocked\nfailed: the clicks table has no referrer column/);
});

test('the status bar follows a recorded stream event by event', () => {
  const model = createMission(MISSION_URI);
  const texts = eventStream('events-planning.jsonl').map(({ event }) => {
    applyEvent(model, event);
    return statusBarView(summarize(model)).text;
  });
  assert.deepEqual(texts, [
    '$(checklist) planning',
    '$(checklist) planning',
    '$(checklist) awaiting answers',
    '$(checklist) planning',
    '$(checklist) planning',
    '$(checklist) planning',
    '$(checklist) awaiting approval',
    '$(sync~spin) running',
    '$(sync~spin) running · foundation',
    '$(sync~spin) running · foundation',
  ]);
  assert.equal(statusBarView(summarize(model)).emphasis, undefined);
});

test('the status bar shows round and passed/total while validating, and an error background when halted', () => {
  const model = seededCleanMission();
  const [started, round] = eventStream('events-halted.jsonl').slice(2, 4);
  applyEvent(model, started.event);
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) validating · analytics r1 · 11/22');
  applyEvent(model, round.event);
  applyServerStatus(model, recordedStatus());
  const halted = statusBarView(summarize(model));
  assert.equal(halted.text, '$(error) halted · 15/22');
  assert.equal(halted.emphasis, 'error');
  assert.equal(halted.tooltip, [
    'Mission: Link shortener with auth and analytics',
    'Status: halted',
    'Milestone: analytics, round 1',
    'Assertions passed: 15/22',
    'Halted: feature fix-analytics-1-referrer-null blocked: the clicks table has no referrer column and migrations are frozen',
  ].join('\n'));
});

test('paused and waiting missions ask for attention with a warning background', () => {
  const model = seededCleanMission();
  applyEvent(model, { ts: '2025-06-02T13:10:00Z', type: 'mission_paused', reason: 'interrupted (Ctrl-C)' });
  assert.deepEqual(statusBarView(summarize(model)), {
    text: '$(checklist) paused · 11/22',
    tooltip: 'Mission: Link shortener with auth and analytics\nStatus: paused\nMilestone: analytics\nAssertions passed: 11/22',
    emphasis: 'warning',
  });
});

test('a mission state.json says is running, with no run alive, shows as stopped: nothing spins', () => {
  const model = seededCleanMission();
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) running · analytics · 11/22', 'the files alone cannot tell');
  applyServerStatus(model, { ...recordedStatus(), status: 'running', haltReason: undefined, runAlive: false });
  const bar = statusBarView(summarize(model));
  assert.equal(bar.text, '$(debug-pause) stopped · analytics r1 · 15/22');
  assert.equal(bar.emphasis, 'warning');
  assert.match(bar.tooltip, /Status: running\nNo run is alive \(it stopped or crashed\); "Start mission" resumes it/);
  const [mission] = childrenOf([model]);
  assert.deepEqual([mission.description, mission.icon], ['stopped (state.json: running) · 15/22', 'debug-pause']);
  const analytics = childrenOf([model], mission)[1];
  assert.deepEqual([analytics.description, analytics.icon], ['stopped · 1/2 features', 'debug-pause']);
  const inProgress = childrenOf([model], analytics)[1];
  assert.deepEqual([inProgress.label, inProgress.description, inProgress.icon], ['feat-stats-api', 'stopped (in progress)', 'debug-pause']);
  // A run starts (the server's events, or missions/status once a runner holds the lock): it spins again.
  applyServerStatus(model, { ...recordedStatus(), status: 'running', haltReason: undefined, runAlive: true });
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) running · analytics r1 · 15/22');
  assert.equal(childrenOf([model], childrenOf([model])[0])[1].icon, 'sync~spin');
});
