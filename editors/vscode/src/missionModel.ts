// What the client knows about one mission: its milestones, features and assertions with their
// statuses and places in the documents. Seeded from the server's outlines (documentSymbol) and
// the mission folder's status files, then kept current by `missions/event`. No vscode import.

import type { MissionState, MissionStatus, OutlineSymbol, ProgressEvent, Range } from './protocol';
import { SymbolKinds } from './protocol';

export type FeatureStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'blocked' | 'cancelled';
export type AssertionStatus = 'pending' | 'passed' | 'failed' | 'blocked';
export type MilestoneState = 'pending' | 'running' | 'validating' | 'passed' | 'failed';

/** A place to open: a document and, when the server told us, the id's range in it. */
export interface Place {
  uri: string;
  range?: Range;
}

export interface FeatureNode {
  id: string;
  description?: string;
  status: FeatureStatus;
  /** The status of the last handoff received for it (`completed`, `partial`, `blocked`). */
  handoff?: string;
  failureReason?: string;
  place?: Place;
}

export interface MilestoneNode {
  name: string;
  state: MilestoneState;
  round: number;
  features: FeatureNode[];
  place?: Place;
}

export interface AssertionNode {
  id: string;
  title?: string;
  area?: string;
  status: AssertionStatus;
  place?: Place;
}

export interface MissionModel {
  /** The mission folder's URI. */
  uri: string;
  id?: string;
  title: string;
  status?: MissionState;
  currentMilestone?: string;
  round: number;
  haltReason?: string;
  milestones: MilestoneNode[];
  assertions: AssertionNode[];
  /**
   * Whether a runner holds the mission (from `missions/status` and the server's events);
   * undefined when nobody said (files only, an older server).
   */
  runAlive?: boolean;
  /** Counts from the last `missions/status` answer; they win over counting `assertions`. */
  serverCounts?: { assertions: Record<string, number>; features: Record<string, number> };
  /** From the last `missions/status` answer: what runs now, the tokens and cost so far, the budgets. */
  running?: { now: string[]; waiting?: string; spent?: { summary: string; tokens: string; cost?: string }; budgets: string[] };
  lastEvent?: ProgressEvent;
}

/** What an event made stale, to be read again (from the server or the mission folder). */
export type Reload = 'features' | 'contract' | 'validation' | 'status';

export function createMission(uri: string, title?: string): MissionModel {
  const folderName = uri.replace(/\/+$/, '').split('/').pop() ?? uri;
  return { uri, title: title ?? decodeURIComponent(folderName), round: 0, milestones: [], assertions: [] };
}

const FEATURE_STATUSES: readonly string[] = ['pending', 'in_progress', 'completed', 'failed', 'blocked', 'cancelled'];
const ASSERTION_STATUSES: readonly string[] = ['pending', 'passed', 'failed', 'blocked'];
const MISSION_STATES: readonly string[] = [
  'planning', 'awaiting_answers', 'awaiting_approval', 'running', 'validating', 'paused', 'halted', 'completed', 'cancelled',
  // droid's
  'awaiting_input', 'initializing', 'orchestrator_turn',
];

/** States in which a runner is at work (the status bar spins while one is alive). */
export const ACTIVE_STATES: readonly string[] = ['running', 'validating', 'initializing', 'orchestrator_turn'];

/** One feature as a source describes it; missing fields keep what the model already knows. */
export interface FeatureInput {
  id: string;
  milestone?: string;
  description?: string;
  status?: string;
  place?: Place;
}

/**
 * Replaces the feature list with `features`, in their order (milestone order is the order of
 * first appearance, design §2), keeping known statuses and places where the input has none.
 */
export function setFeatures(model: MissionModel, features: FeatureInput[]): void {
  const known = new Map(allFeatures(model).map((f) => [f.id, f]));
  const previous = new Map(model.milestones.map((m) => [m.name, m]));
  const milestones: MilestoneNode[] = [];
  for (const input of features) {
    const name = input.milestone ?? '(no milestone)';
    let milestone = milestones.find((m) => m.name === name);
    if (!milestone) {
      const before = previous.get(name);
      milestone = { name, state: before?.state ?? 'pending', round: before?.round ?? 0, features: [], place: before?.place };
      milestones.push(milestone);
    }
    const old = known.get(input.id);
    milestone.features.push({
      ...old,
      id: input.id,
      description: input.description ?? old?.description,
      status: asFeatureStatus(input.status) ?? old?.status ?? 'pending',
      place: input.place ?? old?.place,
    });
  }
  model.milestones = milestones;
}

/** features.json's outline from the server: milestones (Package) holding features (Class). */
export function featuresFromOutline(symbols: OutlineSymbol[], featuresUri: string): { features: FeatureInput[]; milestonePlaces: Map<string, Place> } {
  const features: FeatureInput[] = [];
  const milestonePlaces = new Map<string, Place>();
  for (const symbol of symbols) {
    if (symbol.kind === SymbolKinds.milestone) {
      milestonePlaces.set(symbol.name, { uri: featuresUri, range: symbol.selectionRange });
      for (const child of symbol.children ?? []) {
        if (child.kind === SymbolKinds.feature) {
          features.push({ id: child.name, milestone: symbol.name, description: child.detail, place: { uri: featuresUri, range: child.selectionRange } });
        }
      }
    } else if (symbol.kind === SymbolKinds.feature) {
      features.push({ id: symbol.name, description: symbol.detail, place: { uri: featuresUri, range: symbol.selectionRange } });
    }
  }
  return { features, milestonePlaces };
}

/** Seeds features from the outline, with the statuses features.json holds (when it parses). */
export function applyFeaturesOutline(model: MissionModel, symbols: OutlineSymbol[], featuresUri: string, featuresText?: string): void {
  const { features, milestonePlaces } = featuresFromOutline(symbols, featuresUri);
  const fromFile = featuresText === undefined ? [] : parseFeaturesFile(featuresText, featuresUri);
  const statusById = new Map(fromFile.map((f) => [f.id, f.status]));
  setFeatures(model, features.map((f) => ({ ...f, status: statusById.get(f.id) })));
  for (const milestone of model.milestones) {
    milestone.place = milestonePlaces.get(milestone.name) ?? milestone.place;
  }
}

/**
 * The features of a features.json text, for when the server cannot give an outline. A file that
 * does not parse yields nothing: the server's diagnostics are the place to learn why.
 */
export function parseFeaturesFile(text: string, featuresUri: string): FeatureInput[] {
  const root = parseJson(text);
  // `{ "features": [...] }`, or a bare array (droid still reads that legacy shape).
  const list = Array.isArray(root) ? root : isObject(root) && Array.isArray(root.features) ? root.features : [];
  return list.filter(isObject).filter((f) => typeof f.id === 'string').map((f) => ({
    id: f.id as string,
    // droid accepts a number as a milestone name
    milestone: typeof f.milestone === 'string' ? f.milestone : typeof f.milestone === 'number' ? String(f.milestone) : undefined,
    description: typeof f.description === 'string' ? f.description.split('\n')[0] : undefined,
    status: typeof f.status === 'string' ? f.status : undefined,
    place: { uri: featuresUri },
  }));
}

/** The contract's outline: areas (Namespace) holding assertions (Constant), or top-level assertions. */
export function applyContractOutline(model: MissionModel, symbols: OutlineSymbol[], contractUri: string): void {
  const known = new Map(model.assertions.map((a) => [a.id, a]));
  const assertions: AssertionNode[] = [];
  const add = (symbol: OutlineSymbol, area?: string) => {
    const old = known.get(symbol.name);
    assertions.push({ id: symbol.name, title: symbol.detail, area, status: old?.status ?? 'pending', place: { uri: contractUri, range: symbol.selectionRange } });
  };
  for (const symbol of symbols) {
    if (symbol.kind === SymbolKinds.assertion) add(symbol);
    if (symbol.kind === SymbolKinds.area) {
      for (const child of symbol.children ?? []) if (child.kind === SymbolKinds.assertion) add(child, symbol.name);
    }
  }
  model.assertions = assertions;
}

/**
 * validation-state.json: `{ assertions: { "VAL-…": { status, … } } }`, plus the runner's
 * `rounds` (milestone → last round) and `passedMilestones`.
 */
export function applyValidationState(model: MissionModel, text: string): void {
  const root = parseJson(text);
  if (!isObject(root)) return;
  const states = isObject(root.assertions) ? root.assertions : {};
  for (const assertion of model.assertions) {
    const state = states[assertion.id];
    const status = isObject(state) ? asAssertionStatus(state.status) : undefined;
    assertion.status = status ?? 'pending';
  }
  const rounds = isObject(root.rounds) ? root.rounds : {};
  const passed = Array.isArray(root.passedMilestones) ? root.passedMilestones : [];
  for (const milestone of model.milestones) {
    const round = rounds[milestone.name];
    if (typeof round === 'number') milestone.round = round;
    if (passed.includes(milestone.name)) milestone.state = 'passed';
  }
}

/**
 * state.json: droid's `{ missionId, state, … }` or the runner's `{ id, title, status,
 * currentMilestone, round, haltReason? }`.
 */
export function applyStateFile(model: MissionModel, text: string): void {
  const root = parseJson(text);
  if (!isObject(root)) return;
  const id = root.missionId ?? root.id;
  if (typeof id === 'string') model.id = id;
  if (typeof root.title === 'string' && root.title) model.title = root.title;
  const state = root.state ?? root.status;
  if (typeof state === 'string' && MISSION_STATES.includes(state)) model.status = state as MissionState;
  if (typeof root.currentMilestone === 'string') model.currentMilestone = root.currentMilestone;
  if (typeof root.round === 'number') model.round = root.round;
  model.haltReason = typeof root.haltReason === 'string' ? root.haltReason : undefined;
  markCurrentMilestone(model);
}

/** mission.md: its first `# ` heading is the mission's title (droid's state.json has none). */
export function applyMissionMarkdown(model: MissionModel, text: string): void {
  const heading = text.replace(/^\uFEFF/, '').split(/\r?\n/).find((line) => /^# \S/.test(line));
  if (heading) model.title = heading.slice(2).trim();
}

/** The answer to `missions/status`. */
export function applyServerStatus(model: MissionModel, status: MissionStatus): void {
  model.id = status.id;
  if (status.title) model.title = status.title;
  model.status = status.status;
  model.currentMilestone = status.currentMilestone ?? undefined;
  model.round = status.round;
  model.haltReason = status.haltReason;
  model.serverCounts = { assertions: status.assertions, features: status.features };
  model.runAlive = typeof status.runAlive === 'boolean' ? status.runAlive : undefined;
  const now = status.now ?? [];
  const waiting = now.find((s) => s.waiting);
  model.running = {
    now: now.map((s) => s.description ?? s.who),
    waiting: waiting?.waiting && `${waiting.who}: waiting for ${waiting.waiting.what}, ${waiting.waiting.seconds} s`,
    spent: status.spendText && { summary: status.spendText.summary, tokens: status.spendText.tokens, cost: status.spendText.cost ?? undefined },
    budgets: (status.budgets ?? []).map((b) => b.description),
  };
  markCurrentMilestone(model);
}

/** Events after which the server's run is over (the files say where the next one resumes). */
const RUN_ENDING_EVENTS: readonly string[] = ['mission_paused', 'mission_halted', 'mission_completed', 'mission_cancelled', 'question_asked', 'plan_submitted'];

/**
 * Applies one `missions/event` and says what it made stale. Event fields follow the runner's
 * progress_log.jsonl (and droid's event types); unknown event types change nothing.
 */
export function applyEvent(model: MissionModel, event: ProgressEvent): Reload[] {
  model.lastEvent = event;
  const stale = applyKnownEvent(model, event);
  if (stale === undefined) return [];
  // The server sends events only for a run it is doing.
  model.runAlive = !RUN_ENDING_EVENTS.includes(event.type);
  return stale;
}

/** What `event` changes in `model` and makes stale; undefined for an unknown type. */
function applyKnownEvent(model: MissionModel, event: ProgressEvent): Reload[] | undefined {
  const milestoneName = str(event.milestone);
  const featureId = str(event.featureId);
  switch (event.type) {
    case 'mission_created':
      if (str(event.id)) model.id = str(event.id);
      if (str(event.title)) model.title = str(event.title)!;
      model.status = 'planning';
      return ['status'];
    case 'planning_started':
      model.status = 'planning';
      return [];
    case 'question_asked':
      model.status = 'awaiting_answers';
      return [];
    case 'contract_written':
      return ['contract', 'status'];
    case 'features_written':
      return ['features', 'status'];
    case 'plan_submitted':
      model.status = 'awaiting_approval';
      return [];
    case 'plan_approved':
      model.status = 'running';
      return [];
    case 'milestone_started': {
      model.status = 'running';
      model.round = 0;
      if (milestoneName) {
        model.currentMilestone = milestoneName;
        const milestone = milestoneNamed(model, milestoneName);
        milestone.state = 'running';
        milestone.round = 0;
      }
      return [];
    }
    case 'feature_started': {
      if (!featureId) return [];
      const feature = featureFor(model, featureId, milestoneName ?? model.currentMilestone);
      feature.status = 'in_progress';
      feature.failureReason = undefined;
      if (model.status !== 'paused' && model.status !== 'halted') model.status = 'running';
      return [];
    }
    case 'handoff_received':
      if (featureId) featureFor(model, featureId, milestoneName ?? model.currentMilestone).handoff = str(event.status);
      return [];
    case 'feature_completed':
      if (featureId) featureFor(model, featureId, milestoneName ?? model.currentMilestone).status = 'completed';
      return ['status'];
    case 'feature_failed': {
      if (!featureId) return ['status'];
      const feature = featureFor(model, featureId, milestoneName ?? model.currentMilestone);
      feature.status = 'failed';
      feature.failureReason = str(event.reason);
      return ['status'];
    }
    case 'validation_started': {
      model.status = 'validating';
      if (typeof event.round === 'number') model.round = event.round;
      if (milestoneName) {
        model.currentMilestone = milestoneName;
        const milestone = milestoneNamed(model, milestoneName);
        milestone.state = 'validating';
        milestone.round = model.round;
      }
      return [];
    }
    case 'validation_round': {
      if (typeof event.round === 'number') model.round = event.round;
      if (milestoneName) {
        const milestone = milestoneNamed(model, milestoneName);
        milestone.round = model.round;
        milestone.state = roundPassed(event) ? 'passed' : 'failed';
      }
      return ['validation', 'status'];
    }
    case 'fix_features_added':
      model.status = 'running';
      return ['features', 'status'];
    case 'milestone_passed':
      if (milestoneName) milestoneNamed(model, milestoneName).state = 'passed';
      return ['validation', 'status'];
    case 'mission_paused':
      model.status = 'paused';
      return [];
    case 'mission_resumed':
      // Answers to the planner's questions resume planning; anything else resumes the loop.
      model.status = model.status === 'awaiting_answers' || model.status === 'planning' ? 'planning' : 'running';
      model.haltReason = undefined;
      return ['status'];
    case 'mission_halted':
      model.status = 'halted';
      model.haltReason = str(event.reason);
      return ['status'];
    case 'mission_completed':
      model.status = 'completed';
      return ['validation', 'status'];
    case 'mission_cancelled':
      model.status = 'cancelled';
      return ['status'];
    // droid's progress_log.jsonl
    case 'mission_accepted':
      if (str(event.title)) model.title = str(event.title)!;
      model.status = 'planning';
      return ['status'];
    case 'mission_run_started':
      model.status = 'running';
      model.haltReason = undefined;
      return ['status'];
    case 'worker_selected_feature':
    case 'worker_started':
      if (featureId) featureFor(model, featureId, milestoneName ?? model.currentMilestone).status = 'in_progress';
      if (model.status !== 'paused') model.status = 'running';
      return [];
    case 'worker_completed': {
      if (!featureId) return ['features', 'status'];
      const feature = featureFor(model, featureId, milestoneName ?? model.currentMilestone);
      // droid puts a feature whose worker did not succeed back to pending.
      feature.status = event.successState === 'success' ? 'completed' : 'pending';
      feature.handoff = str(event.successState);
      return ['features', 'status'];
    }
    case 'worker_failed':
      if (featureId) {
        const feature = featureFor(model, featureId, milestoneName ?? model.currentMilestone);
        feature.status = 'pending';
        feature.failureReason = str(event.reason);
      }
      return ['features', 'status'];
    case 'worker_paused':
      model.status = 'paused';
      return ['features', 'status'];
    case 'milestone_validation_triggered':
      if (milestoneName) {
        model.currentMilestone = milestoneName;
        milestoneNamed(model, milestoneName).state = 'validating';
      }
      return ['features', 'status'];
    default:
      return undefined;
  }
}

export interface StatusSummary {
  title: string;
  status?: MissionState;
  /** state.json says a run is at work, but none is alive (it died, or the folder was copied). */
  stalled: boolean;
  currentMilestone?: string;
  round: number;
  haltReason?: string;
  passed: number;
  total: number;
  /** What a live run does now, waits for, and has spent (from `missions/status`). */
  running?: MissionModel['running'];
}

/** The numbers the status bar shows: server counts when it answered, else the tree's. */
export function summarize(model: MissionModel): StatusSummary {
  let passed: number;
  let total: number;
  if (model.serverCounts) {
    passed = model.serverCounts.assertions.passed ?? 0;
    total = Object.values(model.serverCounts.assertions).reduce((sum, n) => sum + n, 0);
  } else {
    passed = model.assertions.filter((a) => a.status === 'passed').length;
    total = model.assertions.length;
  }
  return { title: model.title, status: model.status, stalled: isStalled(model), currentMilestone: model.currentMilestone, round: model.round, haltReason: model.haltReason, passed, total, running: model.running };
}

/** A state of work (running, validating, …) that no live runner backs. */
export function isStalled(model: MissionModel): boolean {
  return model.runAlive === false && model.status !== undefined && ACTIVE_STATES.includes(model.status);
}

export function allFeatures(model: MissionModel): FeatureNode[] {
  return model.milestones.flatMap((m) => m.features);
}

function roundPassed(event: ProgressEvent): boolean {
  // The runner logs `passed: bool` with `assertions: {passed, failed, blocked}`; older logs
  // (examples/clean) carry `passed`, `failed`, `blocked` as numbers.
  if (typeof event.passed === 'boolean') return event.passed;
  const failed = typeof event.failed === 'number' ? event.failed : 0;
  const blocked = typeof event.blocked === 'number' ? event.blocked : 0;
  return failed + blocked === 0;
}

/**
 * Marks the current milestone as running or validating, and the ones before it as passed: the
 * loop moves to the next milestone only when every assertion of the last one passed (design §6).
 */
function markCurrentMilestone(model: MissionModel): void {
  const index = model.milestones.findIndex((m) => m.name === model.currentMilestone);
  if (index < 0) return;
  model.milestones.slice(0, index).forEach((m) => {
    if (m.state === 'pending') m.state = 'passed';
  });
  const milestone = model.milestones[index];
  if (milestone.state === 'pending' && (model.status === 'running' || model.status === 'validating') && !isStalled(model)) {
    milestone.state = model.status;
  }
}

function milestoneNamed(model: MissionModel, name: string): MilestoneNode {
  let milestone = model.milestones.find((m) => m.name === name);
  if (!milestone) {
    milestone = { name, state: 'pending', round: 0, features: [] };
    model.milestones.push(milestone);
  }
  return milestone;
}

/** The feature with `id`; one the model has not seen yet (a new fix feature) joins `milestone`. */
function featureFor(model: MissionModel, id: string, milestone: string | undefined): FeatureNode {
  const existing = allFeatures(model).find((f) => f.id === id);
  if (existing) return existing;
  const feature: FeatureNode = { id, status: 'pending' };
  milestoneNamed(model, milestone ?? '(no milestone)').features.push(feature);
  return feature;
}

function asFeatureStatus(value: unknown): FeatureStatus | undefined {
  return typeof value === 'string' && FEATURE_STATUSES.includes(value) ? (value as FeatureStatus) : undefined;
}

function asAssertionStatus(value: unknown): AssertionStatus | undefined {
  return typeof value === 'string' && ASSERTION_STATUSES.includes(value) ? (value as AssertionStatus) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}
