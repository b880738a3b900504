import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reload } from '../src/missionModel';
import { allFeatures, applyEvent, applyServerStatus, applyStateFile, applyValidationState, createMission, parseFeaturesFile, setFeatures, summarize } from '../src/missionModel';
import { sameMissionUri } from '../src/protocol';
import { eventStream, example, MISSION_URI, modelAfter, recordedStatus, seededCleanMission } from './fixtures';

interface FileFeature {
  id: string;
  milestone: string;
  status: string;
}

test('seeding examples/clean from the server outlines and its files gives milestones, features and assertions with statuses', () => {
  const model = seededCleanMission();
  const state = JSON.parse(example('state.json'));
  const validation = JSON.parse(example('validation-state.json')).assertions as Record<string, { status: string; validatedAtMilestone: string; round: number }>;
  const features = JSON.parse(example('features.json')).features as FileFeature[];
  assert.equal(model.title, 'A shell calculator', "mission.md's first heading");
  assert.equal(model.id, state.missionId);
  assert.equal(model.status, 'completed');
  assert.deepEqual(model.milestones.map((m) => m.name), state.milestones, "the plan's order, from state.json");
  assert.deepEqual(model.milestones.map((m) => m.state), ['passed', 'passed'], 'a completed mission passed every milestone');
  // A milestone's round is the latest its assertions were validated in.
  const latestRound = (milestone: string) => Math.max(...Object.values(validation).filter((v) => v.validatedAtMilestone === milestone).map((v) => v.round));
  assert.deepEqual(model.milestones.map((m) => m.round), state.milestones.map(latestRound));
  assert.deepEqual(model.milestones.map((m) => m.round), [2, 1], 'basics needed a second round');
  for (const milestone of model.milestones) {
    const inFile = features.filter((f) => f.milestone === milestone.name);
    assert.deepEqual(milestone.features.map((f) => [f.id, f.status]), inFile.map((f) => [f.id, f.status]), `${milestone.name}: features.json's features, in its order, with its statuses`);
  }
  const kinds = Object.fromEntries(allFeatures(model).map((f) => [f.id, f.kind]));
  assert.equal(kinds['feat-add'], 'feature');
  assert.equal(kinds['fix-sub-order'], 'fix', 'a fix by its id, with no event to say so');
  assert.equal(kinds['scrutiny-validator-basics'], 'validator');
  assert.equal(kinds['user-testing-validator-more'], 'validator');
  const add = allFeatures(model).find((f) => f.id === 'feat-add')!;
  assert.equal(add.place?.uri, `${MISSION_URI}/features.json`);
  assert.deepEqual(add.place?.range, { start: { line: 3, character: 13 }, end: { line: 3, character: 21 } }, 'the id on line 4 of features.json, without quotes');
  assert.deepEqual(model.assertions.map((a) => [a.id, a.area, a.status]), Object.entries(validation).map(([id, v]) => [id, id === 'VAL-CALC-003' ? 'More' : 'Arithmetic', v.status]));
  assert.deepEqual(summarize(model), { title: 'A shell calculator', status: 'completed', stalled: false, currentMilestone: undefined, round: 0, haltReason: undefined, pauseReason: undefined, passed: 3, total: 3, running: undefined });
});

test('a recorded run walks the mission from planning through a failed round, a fix and a second milestone to completed', () => {
  const model = createMission(MISSION_URI);
  const statuses: string[] = [];
  const reloads: Record<string, Reload[]> = {};
  for (const { missionUri, event } of eventStream('events-completed.jsonl')) {
    assert.ok(sameMissionUri(missionUri, MISSION_URI));
    reloads[event.type] = applyEvent(model, event);
    if (statuses[statuses.length - 1] !== model.status) statuses.push(model.status!);
  }
  assert.deepEqual(statuses, ['planning', 'awaiting_approval', 'running', 'validating', 'running', 'validating', 'running', 'validating', 'completed']);
  assert.deepEqual(reloads.contract_written, ['contract', 'status'], 'contract_written asks for the contract again');
  assert.deepEqual(reloads.features_written, ['features', 'status'], 'features_written asks for the features again');
  assert.deepEqual(reloads.milestone_validation_triggered, ['features', 'status'], 'the injected validators are read from features.json');
  assert.deepEqual(reloads.validation_round, ['validation', 'status']);
  assert.equal(model.title, 'A shell calculator', 'from mission_accepted');
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state, m.round]), [['basics', 'passed', 2], ['more', 'passed', 1]]);
  const byId = new Map(allFeatures(model).map((f) => [f.id, f]));
  assert.ok(allFeatures(model).every((f) => f.status === 'completed'));
  assert.equal(byId.get('fix-sub-order')?.kind, 'fix');
  assert.ok(model.milestones[0].features.includes(byId.get('fix-sub-order')!), 'the fix joins the milestone it fixes');
  assert.equal(byId.get('scrutiny-validator-basics')?.failedSessions, 1, 'its first round failed');
  assert.equal(byId.get('feat-mul')?.failedSessions, 0, 'a partial handoff is not a failed session');
  assert.equal(byId.get('feat-mul')?.handoff, 'success', 'its second session succeeded');
  assert.equal(model.runAlive, false, 'mission_completed ends the run');
});

test('a recorded halting run fails its round, puts the validators back to pending and halts with the reason', () => {
  const events = eventStream('events-halted.jsonl').map((p) => p.event);
  const halt = events[events.length - 1];
  assert.deepEqual([halt.type, halt.halted], ['mission_paused', true], "the stream ends with droid's pause, marked as a halt");
  const model = createMission(MISSION_URI);
  const reloads = new Set<Reload>();
  for (const event of events) applyEvent(model, event).forEach((r) => reloads.add(r));
  assert.equal(model.status, 'halted');
  assert.equal(model.haltReason, halt.reason);
  assert.equal(model.runAlive, false);
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state, m.round]), [['basics', 'failed', 1]]);
  assert.deepEqual(allFeatures(model).map((f) => `${f.id}:${f.status}:${f.handoff}:${f.failedSessions}`), [
    'feat-add:completed:success:0',
    'feat-sub:completed:success:0',
    'scrutiny-validator-basics:pending:failure:1',
    'user-testing-validator-basics:pending:failure:1',
  ]);
  const failedHandoff = events.find((e) => e.type === 'worker_completed' && e.featureId === 'scrutiny-validator-basics')!.handoff as { salientSummary: string };
  assert.equal(allFeatures(model)[2].lastProblem, failedHandoff.salientSummary, "the failed validator's own summary");
  assert.deepEqual([...reloads].sort(), ['contract', 'features', 'status', 'validation']);
});

test('the log of examples/clean replays to the state its state.json and features.json record', () => {
  const model = createMission(MISSION_URI);
  for (const line of example('progress_log.jsonl').split('\n').filter(Boolean)) applyEvent(model, JSON.parse(line));
  const state = JSON.parse(example('state.json'));
  const features = JSON.parse(example('features.json')).features as FileFeature[];
  assert.equal(model.status, state.detailedState);
  assert.equal(model.id, state.missionId);
  assert.deepEqual(model.milestones.map((m) => m.name), state.milestones);
  assert.deepEqual(model.milestones.map((m) => [m.state, m.round]), [['passed', 2], ['passed', 1]]);
  const statuses = new Map(allFeatures(model).map((f) => [f.id, f.status]));
  assert.deepEqual(features.map((f) => [f.id, statuses.get(f.id)]), features.map((f) => [f.id, f.status]));
});

test('a missions/status answer sets the state and its counts win over the tree', () => {
  const model = modelAfter(eventStream('events-halted.jsonl').map((p) => p.event));
  const status = recordedStatus();
  applyServerStatus(model, status);
  const summary = summarize(model);
  assert.equal(summary.status, 'halted');
  assert.equal(summary.currentMilestone, 'basics');
  assert.equal(summary.round, 1);
  assert.equal(summary.passed, status.assertions.passed);
  assert.equal(summary.total, Object.values(status.assertions).reduce((a, b) => a + b, 0));
  assert.deepEqual([summary.passed, summary.total], [1, 3]);
  assert.equal(summary.haltReason, status.haltReason);
  assert.equal(model.runAlive, false);
});

test('validation-state.json: a failed assertion marked blocked is blocked; rounds come from validatedAtMilestone', () => {
  const model = seededCleanMission();
  applyValidationState(model, JSON.stringify({
    assertions: {
      'VAL-CALC-001': { status: 'passed', validatedAtMilestone: 'basics', round: 3 },
      'VAL-CALC-002': { status: 'failed', issues: 'the terminal tool was not available', blocked: true, round: 3 },
      'VAL-CALC-003': { status: 'failed', issues: 'prints 21' },
    },
  }));
  assert.deepEqual(model.assertions.map((a) => a.status), ['passed', 'blocked', 'failed']);
  assert.deepEqual(model.milestones.map((m) => m.round), [3, 1]);
  applyValidationState(model, JSON.stringify({ assertions: { 'VAL-CALC-001': { status: 'passed' } } }));
  assert.deepEqual(model.assertions.map((a) => a.status), ['passed', 'pending', 'pending'], 'an assertion the file does not list is pending');
});

test("state.json: detailedState counts while it agrees with droid's state; the plan's milestone order wins over the queue's", () => {
  const model = createMission(MISSION_URI);
  // The queue as droid leaves it: completed features at the bottom, so `more` comes first.
  setFeatures(model, parseFeaturesFile(JSON.stringify({ features: [
    { id: 'feat-mul', milestone: 'more', status: 'pending' },
    { id: 'feat-add', milestone: 'basics', status: 'completed' },
  ] }), `${MISSION_URI}/features.json`));
  assert.deepEqual(model.milestones.map((m) => m.name), ['more', 'basics']);
  applyStateFile(model, JSON.stringify({ missionId: 'mis_0a1b2c3d', state: 'paused', detailedState: 'halted', haltReason: 'feature feat-mul: tests fail', currentMilestone: 'more', milestones: ['basics', 'more'] }));
  assert.deepEqual([model.status, model.haltReason, model.currentMilestone], ['halted', 'feature feat-mul: tests fail', 'more']);
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state]), [['basics', 'passed'], ['more', 'pending']]);
  // droid ran the mission since and changed `state` alone.
  applyStateFile(model, JSON.stringify({ missionId: 'mis_0a1b2c3d', state: 'running', detailedState: 'halted', currentMilestone: 'more' }));
  assert.deepEqual([model.status, model.haltReason], ['running', undefined]);
  assert.deepEqual(model.milestones.map((m) => [m.name, m.state]), [['basics', 'passed'], ['more', 'running']]);
  // The order stays when features.json is read again.
  setFeatures(model, parseFeaturesFile(JSON.stringify([{ id: 'feat-mul', milestone: 'more', status: 'in_progress' }, { id: 'feat-add', milestone: 'basics', status: 'completed' }]), `${MISSION_URI}/features.json`));
  assert.deepEqual(model.milestones.map((m) => m.name), ['basics', 'more']);
});

test('unknown events change nothing and ask for nothing', () => {
  const model = seededCleanMission();
  const before = JSON.stringify({ ...model, lastEvent: undefined });
  assert.deepEqual(applyEvent(model, { timestamp: '2026-12-08T03:00:00.000Z', type: 'handoff_items_dismissed', dismissals: [] }), []);
  assert.deepEqual(applyEvent(model, { timestamp: '2026-12-08T03:00:00.000Z', type: 'feature_failed', featureId: 'feat-add' }), [], 'the previous format is not read');
  assert.equal(JSON.stringify({ ...model, lastEvent: undefined }), before);
});

test('features.json that does not parse yields no features instead of throwing', () => {
  assert.deepEqual(parseFeaturesFile('{"features": [ {"id": "a", ', 'file:///m/features.json'), []);
  assert.deepEqual(parseFeaturesFile('\uFEFF{"features":[{"id":"a","milestone":"m","status":"completed","description":"one\\ntwo","skillName":"sh-worker"}]}', 'file:///m/features.json'), [
    { id: 'a', milestone: 'm', description: 'one', status: 'completed', skillName: 'sh-worker', place: { uri: 'file:///m/features.json' } },
  ]);
});

test('mission URIs match however they are spelled', () => {
  assert.ok(sameMissionUri('file:///work/a%20b/.missions/x/', 'file:///work/a b/.missions/x'));
  assert.ok(!sameMissionUri('file:///work/x', 'file:///work/xy'));
});
