// Loading the recorded fixtures: server outlines of examples/clean, missions/event streams,
// a missions/status answer.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MissionModel } from '../src/missionModel';
import { applyContractOutline, applyFeaturesOutline, applyStateFile, applyValidationState, createMission } from '../src/missionModel';
import type { MissionEventParams, MissionStatus, OutlineSymbol } from '../src/protocol';

const FIXTURES = resolve(__dirname, '../../test/fixtures');
export const CLEAN = resolve(__dirname, '../../../../examples/clean');
export const MISSION_URI = 'file:///work/demo/.missions/link-shortener';

export function fixture(name: string): string {
  return readFileSync(resolve(FIXTURES, name), 'utf8');
}

export function example(name: string): string {
  return readFileSync(resolve(CLEAN, name), 'utf8');
}

export function eventStream(name: string): MissionEventParams[] {
  return fixture(name).split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as MissionEventParams);
}

export function recordedStatus(): MissionStatus {
  return JSON.parse(fixture('status-halted.json')) as MissionStatus;
}

/** examples/clean as the extension seeds it: server outlines plus the folder's status files. */
export function seededCleanMission(): MissionModel {
  const model = createMission(MISSION_URI);
  const features = JSON.parse(fixture('outline-features.json')) as OutlineSymbol[];
  const contract = JSON.parse(fixture('outline-contract.json')) as OutlineSymbol[];
  applyFeaturesOutline(model, features, `${MISSION_URI}/features.json`, example('features.json'));
  applyContractOutline(model, contract, `${MISSION_URI}/validation-contract.md`);
  applyValidationState(model, example('validation-state.json'));
  applyStateFile(model, example('state.json'));
  return model;
}
