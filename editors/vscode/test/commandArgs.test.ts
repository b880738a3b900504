import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planArguments } from '../src/commandArgs';

const A = 'file:///w/.missions/a';
const B = 'file:///w/.missions/b';

test('arguments from a code lens or code action pass through unchanged', () => {
  assert.deepEqual(planArguments('missions.start', [A], [A, B], undefined), { kind: 'ready', args: [A] });
  assert.deepEqual(planArguments('missions.runFeature', [A, 'feat-x'], [A, B], undefined), { kind: 'ready', args: [A, 'feat-x'] });
});

test('a tree node becomes its mission URI and, for its own command, its feature or milestone', () => {
  assert.deepEqual(planArguments('missions.runFeature', [{ kind: 'feature', missionUri: A, name: 'feat-x' }], [A], undefined), { kind: 'ready', args: [A, 'feat-x'] });
  assert.deepEqual(planArguments('missions.validateMilestone', [{ kind: 'milestone', missionUri: A, name: 'foundation' }], [A], undefined), { kind: 'ready', args: [A, 'foundation'] });
  assert.deepEqual(planArguments('missions.pause', [{ kind: 'mission', missionUri: B }], [A, B], undefined), { kind: 'ready', args: [B] });
  assert.deepEqual(planArguments('missions.runFeature', [{ kind: 'mission', missionUri: B }], [A, B], undefined), { kind: 'pickItem', missionUri: B, item: 'feature' });
});

test('from the palette: the focused mission, else the only one, else a question', () => {
  assert.deepEqual(planArguments('missions.status', [], [A, B], B), { kind: 'ready', args: [B] });
  assert.deepEqual(planArguments('missions.status', [], [A], undefined), { kind: 'ready', args: [A] });
  assert.deepEqual(planArguments('missions.status', [], [A, B], undefined), { kind: 'pickMission', candidates: [A, B] });
  assert.deepEqual(planArguments('missions.validateMilestone', [], [A], undefined), { kind: 'pickItem', missionUri: A, item: 'milestone' });
  assert.deepEqual(planArguments('missions.runFeature', [A], [A], undefined), { kind: 'pickItem', missionUri: A, item: 'feature' });
});
