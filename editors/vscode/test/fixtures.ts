// Loading the recorded fixtures (test/recordFixtures.ts makes them from the real binary): server
// outlines of examples/clean, the `missions/event` streams of two real runs of the calculator
// mission through "Start mission" (one completes, one halts), the `missions/status` answer
// after the halt. examples/clean is the folder of a real `missions demo` run of that mission.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MissionModel } from '../src/missionModel';
import { applyContractOutline, applyEvent, applyFeaturesOutline, applyMissionMarkdown, applyStateFile, applyValidationState, createMission } from '../src/missionModel';
import type { MissionEventParams, MissionStatus, OutlineSymbol, ProgressEvent } from '../src/protocol';

const FIXTURES = resolve(__dirname, '../../test/fixtures');
export const CLEAN = resolve(__dirname, '../../../../examples/clean');
/** The mission of the recorded streams (the recorder names its temporary folder /work/demo). */
export const MISSION_URI = 'file:///work/demo/calc/.missions/calc';

export function fixture(name: string): string {
  return readFileSync(resolve(FIXTURES, name), 'utf8');
}

export function example(name: string): string {
  return readFileSync(resolve(CLEAN, name), 'utf8');
}

export function eventStream(name: 'events-completed.jsonl' | 'events-halted.jsonl'): MissionEventParams[] {
  return fixture(name).split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as MissionEventParams);
}

/** The events of a stream up to and including the first that `last` takes. */
export function eventsUntil(name: 'events-completed.jsonl' | 'events-halted.jsonl', last: (event: ProgressEvent) => boolean): ProgressEvent[] {
  const events = eventStream(name).map((p) => p.event);
  return events.slice(0, events.findIndex(last) + 1);
}

/** A model fed the stream's events, as the extension is while it runs the mission. */
export function modelAfter(events: ProgressEvent[]): MissionModel {
  const model = createMission(MISSION_URI);
  for (const event of events) applyEvent(model, event);
  return model;
}

export function recordedStatus(): MissionStatus {
  return JSON.parse(fixture('status-halted.json')) as MissionStatus;
}

/** examples/clean as the extension seeds it: server outlines plus the folder's files. */
export function seededCleanMission(): MissionModel {
  const model = createMission(MISSION_URI);
  const features = JSON.parse(fixture('outline-features.json')) as OutlineSymbol[];
  const contract = JSON.parse(fixture('outline-contract.json')) as OutlineSymbol[];
  applyFeaturesOutline(model, features, `${MISSION_URI}/features.json`, example('features.json'));
  applyContractOutline(model, contract, `${MISSION_URI}/validation-contract.md`);
  applyValidationState(model, example('validation-state.json'));
  applyMissionMarkdown(model, example('mission.md'));
  applyStateFile(model, example('state.json'));
  return model;
}
