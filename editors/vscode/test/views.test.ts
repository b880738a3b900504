import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEvent, applyServerStatus, createMission, summarize } from '../src/missionModel';
import type { TreeNode } from '../src/views';
import { childrenOf, statusBarView } from '../src/views';
import { eventStream, eventsUntil, MISSION_URI, modelAfter, recordedStatus, seededCleanMission } from './fixtures';

function outline(nodes: TreeNode[]): string[] {
  return nodes.map((n) => `${n.label} | ${n.description} | ${n.icon}`);
}

test('the tree shows the mission, its milestones with features and validators, and the assertions with their statuses', () => {
  const models = [seededCleanMission()];
  const [mission] = childrenOf(models);
  assert.deepEqual(outline([mission]), ['A shell calculator | completed · 3/3 | pass']);
  const level2 = childrenOf(models, mission);
  // The validators are listed under their milestone but not counted as its features.
  assert.deepEqual(outline(level2), [
    'basics | passed · round 2 · 3/3 features | pass',
    'more | passed · round 1 · 1/1 features | pass',
    'Assertions | 3/3 passed | pass',
  ]);
  assert.deepEqual(outline(childrenOf(models, level2[0])), [
    'feat-add | completed | pass',
    'feat-sub | completed | pass',
    'fix-sub-order | completed · fix | pass',
    'scrutiny-validator-basics | completed · validator | pass',
    'user-testing-validator-basics | completed · validator | pass',
  ]);
  assert.deepEqual(outline(childrenOf(models, level2[2])), [
    'VAL-CALC-001 | passed · Adding two numbers | pass',
    'VAL-CALC-002 | passed · Subtracting two numbers | pass',
    'VAL-CALC-003 | passed · Multiplying two numbers | pass',
  ]);
});

test('every feature and assertion opens its id in the document the server outlined', () => {
  const models = [seededCleanMission()];
  const [mission] = childrenOf(models);
  const level2 = childrenOf(models, mission);
  const feature = childrenOf(models, level2[0])[0];
  assert.equal(feature.kind, 'feature');
  assert.equal(feature.name, 'feat-add');
  assert.equal(feature.target?.uri, `${MISSION_URI}/features.json`);
  assert.deepEqual(feature.target?.range, { start: { line: 3, character: 13 }, end: { line: 3, character: 21 } });
  const assertion = childrenOf(models, level2[2])[1];
  assert.equal(assertion.label, 'VAL-CALC-002');
  assert.equal(assertion.target?.uri, `${MISSION_URI}/validation-contract.md`);
  assert.equal(assertion.target?.range?.start.line, 11, 'line 12 of the contract, 0-based');
});

test('after the recorded halting run the tree shows the failed round, the validators waiting to retry and why', () => {
  const model = modelAfter(eventStream('events-halted.jsonl').map((p) => p.event));
  applyServerStatus(model, recordedStatus());
  const [mission] = childrenOf([model]);
  assert.equal(mission.description, 'halted · 1/3');
  assert.equal(mission.icon, 'error');
  assert.match(mission.tooltip ?? '', /\nHalted: milestone basics did not pass validation in 1 round\(s\) \(max_validation_rounds = 1\)\n/);
  const [basics] = childrenOf([model], mission);
  assert.deepEqual([basics.label, basics.description, basics.icon], ['basics', 'failed · round 1 · 2/2 features', 'error']);
  const features = childrenOf([model], basics);
  assert.deepEqual(outline(features), [
    'feat-add | completed | pass',
    'feat-sub | completed | pass',
    'scrutiny-validator-basics | pending · validator · 1 failed session | history',
    'user-testing-validator-basics | pending · validator · 1 failed session | history',
  ]);
  assert.equal(features[2].target, undefined, 'a feature known only from events has no place until features.json is read');
  assert.match(features[2].tooltip ?? '', /last handoff: failure\n1 failed session\nlast problem: reviewed 2 feature\(s\)/);
});

test('a fix feature the orchestrator adds shows under its milestone as a fix; a partial handoff waits for another try', () => {
  const afterFix = modelAfter(eventsUntil('events-completed.jsonl', (e) => e.type === 'fix_features_added'));
  const [mission] = childrenOf([afterFix]);
  const [basics] = childrenOf([afterFix], mission);
  assert.equal(basics.description, 'running · round 1 · 2/3 features', 'the failed round is being fixed');
  assert.deepEqual(outline(childrenOf([afterFix], basics)).slice(-1), ['fix-sub-order | pending · fix | circle-outline']);
  const afterPartial = modelAfter(eventsUntil('events-completed.jsonl', (e) => e.type === 'worker_completed' && e.successState === 'partial'));
  const more = childrenOf([afterPartial], childrenOf([afterPartial])[0])[1];
  const [mul] = childrenOf([afterPartial], more);
  assert.deepEqual([mul.label, mul.description, mul.icon], ['feat-mul', 'pending', 'history']);
  assert.match(mul.tooltip ?? '', /last handoff: partial\nlast problem: feat-mul: handed off as partial/);
});

test('the status bar follows a recorded stream event by event', () => {
  const model = createMission(MISSION_URI);
  const events = eventStream('events-halted.jsonl');
  const texts = events.map(({ event }) => {
    applyEvent(model, event);
    return `${event.type} → ${statusBarView(summarize(model)).text}`;
  });
  assert.deepEqual(texts, [
    'planning_started → $(checklist) planning',
    'contract_written → $(checklist) planning',
    'features_written → $(checklist) planning',
    'plan_submitted → $(checklist) awaiting approval',
    'mission_accepted → $(checklist) awaiting approval',
    'mission_run_started → $(sync~spin) running',
    'milestone_started → $(sync~spin) running · basics',
    'worker_selected_feature → $(sync~spin) running · basics',
    'worker_started → $(sync~spin) running · basics',
    'worker_completed → $(sync~spin) running · basics',
    'worker_selected_feature → $(sync~spin) running · basics',
    'worker_started → $(sync~spin) running · basics',
    'worker_completed → $(sync~spin) running · basics',
    'milestone_validation_triggered → $(sync~spin) validating · basics',
    'worker_selected_feature → $(sync~spin) validating · basics',
    'worker_started → $(sync~spin) validating · basics r1',
    'worker_completed → $(sync~spin) validating · basics r1',
    'worker_selected_feature → $(sync~spin) validating · basics r1',
    'worker_started → $(sync~spin) validating · basics r1',
    'worker_completed → $(sync~spin) validating · basics r1',
    'validation_round → $(sync~spin) validating · basics r1',
    'mission_paused → $(error) halted',
  ]);
  assert.equal(statusBarView(summarize(model)).emphasis, 'error');
});

test('the status bar shows passed/total and the reason when halted', () => {
  const model = modelAfter(eventStream('events-halted.jsonl').map((p) => p.event));
  applyServerStatus(model, recordedStatus());
  const halted = statusBarView(summarize(model));
  assert.equal(halted.text, '$(error) halted · 1/3');
  assert.equal(halted.emphasis, 'error');
  assert.equal(halted.tooltip, [
    'Mission: A shell calculator',
    'Status: halted',
    'Milestone: basics, round 1',
    'Assertions passed: 1/3',
    'Halted: milestone basics did not pass validation in 1 round(s) (max_validation_rounds = 1)',
    'Tokens: 1.6k (input 1.3k, cache read 0, cache write 0, output 260); orchestrator 600, validator 480, worker 480',
  ].join('\n'));
});

test('a completed mission shows a check mark; a paused one asks for attention', () => {
  const completed = statusBarView(summarize(seededCleanMission()));
  assert.deepEqual([completed.text, completed.emphasis], ['$(pass) completed · 3/3', undefined]);
  const model = modelAfter(eventsUntil('events-completed.jsonl', (e) => e.type === 'worker_started' && e.featureId === 'feat-sub'));
  applyEvent(model, { timestamp: '2026-12-08T03:10:00.000Z', type: 'mission_paused', reason: 'paused by missions.pause' });
  assert.deepEqual(statusBarView(summarize(model)), {
    text: '$(checklist) paused',
    tooltip: 'Mission: A shell calculator\nStatus: paused\nMilestone: basics',
    emphasis: 'warning',
  });
});

test('a mission state.json says is running, with no run alive, shows as stopped: nothing spins', () => {
  const model = modelAfter(eventsUntil('events-halted.jsonl', (e) => e.type === 'worker_started' && e.featureId === 'feat-sub'));
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) running · basics');
  // The server's answer at that point of the run, after the runner died.
  const status = { ...recordedStatus(), status: 'running' as const, state: 'running', round: 0, haltReason: undefined, assertions: { pending: 3 }, runAlive: false };
  applyServerStatus(model, status);
  const bar = statusBarView(summarize(model));
  assert.equal(bar.text, '$(debug-pause) stopped · basics · 0/3');
  assert.equal(bar.emphasis, 'warning');
  assert.match(bar.tooltip, /Status: running\nNo run is alive \(it stopped or crashed\); "Start mission" resumes it/);
  const [mission] = childrenOf([model]);
  assert.deepEqual([mission.description, mission.icon], ['stopped (state.json: running) · 0/3', 'debug-pause']);
  const [basics] = childrenOf([model], mission);
  assert.deepEqual([basics.description, basics.icon], ['stopped · 1/2 features', 'debug-pause']);
  const inProgress = childrenOf([model], basics)[1];
  assert.deepEqual([inProgress.label, inProgress.description, inProgress.icon], ['feat-sub', 'stopped (in progress)', 'debug-pause']);
  // A run starts (the server's events, or missions/status once a runner holds the lock): it spins again.
  applyServerStatus(model, { ...status, runAlive: true });
  assert.equal(statusBarView(summarize(model)).text, '$(sync~spin) running · basics · 0/3');
  assert.equal(childrenOf([model], childrenOf([model])[0])[0].icon, 'sync~spin');
});

test('the status bar tooltip carries the tokens the recorded run spent', () => {
  const model = modelAfter(eventStream('events-halted.jsonl').map((p) => p.event));
  applyServerStatus(model, recordedStatus());
  const tooltip = statusBarView(summarize(model)).tooltip.split('\n');
  assert.ok(tooltip.includes('Tokens: 1.6k (input 1.3k, cache read 0, cache write 0, output 260); orchestrator 600, validator 480, worker 480'), tooltip.join('\n'));
  assert.ok(!tooltip.some((line) => line.startsWith('Now: ')), 'a stopped run does nothing now');
});

test('while a live run waits for its provider the status bar says so with the seconds, the tooltip what runs and the budgets', () => {
  const model = modelAfter(eventsUntil('events-completed.jsonl', (e) => e.type === 'worker_started'));
  const waiting = { who: 'worker feat-add', kind: 'worker', startedAt: '2026-12-08T10:00:00.000Z', description: 'worker feat-add for 1.5 min, waiting for the provider, 42 s', waiting: { what: 'the provider', since: '2026-12-08T10:01:00.000Z', seconds: 42 } };
  const budget = { limit: 'max_cost', share: 0.85, description: '$0.85 of max_cost $1.00 spent (85%)' };
  applyServerStatus(model, { ...recordedStatus(), status: 'running', state: 'running', haltReason: undefined, runAlive: true, now: [waiting], budgets: [budget] });
  const view = statusBarView(summarize(model));
  assert.match(view.text, /^\$\(sync~spin\) .* · \$\(watch\) worker feat-add: waiting for the provider, 42 s$/);
  const tooltip = view.tooltip.split('\n');
  assert.ok(tooltip.includes('Now: worker feat-add for 1.5 min, waiting for the provider, 42 s'), tooltip.join('\n'));
  assert.ok(tooltip.includes('Budget: $0.85 of max_cost $1.00 spent (85%)'), tooltip.join('\n'));
});
