// What the client knows about one mission: its milestones, features and assertions with their
// statuses and places in the documents. Seeded from the server's outlines (documentSymbol) and
// the mission folder's files (droid's format, docs/mission-folder.md), then kept current by
// `missions/event`. No vscode import.

import type { MissionState, MissionStatus, OutlineSymbol, ProgressEvent, Range } from './protocol';
import { SymbolKinds } from './protocol';

/** droid's four feature statuses: a failed or blocked session puts its feature back to pending. */
export type FeatureStatus = 'pending' | 'in_progress' | 'completed' | 'cancelled';
export type AssertionStatus = 'pending' | 'passed' | 'failed' | 'blocked';
export type MilestoneState = 'pending' | 'running' | 'validating' | 'passed' | 'failed';
/** A planned feature, a fix the orchestrator added after a failed round, or a built-in validator. */
export type FeatureKind = 'feature' | 'fix' | 'validator';

/** A place to open: a document and, when the server told us, the id's range in it. */
export interface Place {
  uri: string;
  range?: Range;
}

export interface FeatureNode {
  id: string;
  kind: FeatureKind;
  description?: string;
  status: FeatureStatus;
  /** The `successState` of its last session's handoff (`success`, `partial`, `failure`). */
  handoff?: string;
  /** Sessions that ended in `failure` or without a handoff (`worker_failed`). */
  failedSessions: number;
  /** Why its last session did not succeed: the failed worker's reason, or its handoff's summary. */
  lastProblem?: string;
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
  /** droid's `pauseReason` of the last pause (`feature_retry_limit_exceeded`, …); none for a person's pause. */
  pauseReason?: string;
  milestones: MilestoneNode[];
  assertions: AssertionNode[];
  /** Features `fix_features_added` named: droid keeps no per-feature mark of a fix. */
  fixFeatureIds: string[];
  /** The plan's milestones in order (state.json's `milestones`): the queue itself reorders. */
  plannedMilestones?: string[];
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
  return { uri, title: title ?? decodeURIComponent(folderName), round: 0, milestones: [], assertions: [], fixFeatureIds: [] };
}

const FEATURE_STATUSES: readonly string[] = ['pending', 'in_progress', 'completed', 'cancelled'];
/** state.json's `detailedState` (ours) and the droid `state` each is written with. */
const DETAILED_STATES: Readonly<Record<string, string>> = {
  planning: 'planning',
  awaiting_answers: 'awaiting_input',
  awaiting_approval: 'awaiting_input',
  running: 'running',
  validating: 'running',
  paused: 'paused',
  halted: 'paused',
  cancelled: 'paused',
  completed: 'completed',
};
/** droid's seven `state` values. */
const DROID_STATES: readonly string[] = ['planning', 'awaiting_input', 'initializing', 'running', 'paused', 'orchestrator_turn', 'completed'];

/** States in which a runner is at work (the status bar spins while one is alive). */
export const ACTIVE_STATES: readonly string[] = ['running', 'validating', 'initializing', 'orchestrator_turn'];

const VALIDATOR_SKILLS: readonly string[] = ['scrutiny-validator', 'user-testing-validator'];

/** droid's built-in validator features are `scrutiny-validator-<m>` and `user-testing-validator-<m>`. */
export function isValidatorId(id: string): boolean {
  return VALIDATOR_SKILLS.some((skill) => id.startsWith(`${skill}-`));
}

function kindOf(model: MissionModel, id: string, skillName?: string): FeatureKind {
  if (isValidatorId(id) || (skillName !== undefined && VALIDATOR_SKILLS.includes(skillName))) return 'validator';
  return model.fixFeatureIds.includes(id) || id.startsWith('fix-') ? 'fix' : 'feature';
}

/** One feature as a source describes it; missing fields keep what the model already knows. */
export interface FeatureInput {
  id: string;
  milestone?: string;
  description?: string;
  status?: string;
  skillName?: string;
  place?: Place;
}

/**
 * Replaces the feature list with `features`. Milestones keep the order the model knows (state.json's
 * `milestones`, the plan's order), new ones in order of first appearance; known statuses and places
 * stay where the input has none.
 */
export function setFeatures(model: MissionModel, features: FeatureInput[]): void {
  const known = new Map(allFeatures(model).map((f) => [f.id, f]));
  const milestones: MilestoneNode[] = model.milestones.map((m) => ({ ...m, features: [] }));
  for (const input of features) {
    const milestone = milestoneIn(milestones, input.milestone ?? '(no milestone)');
    const old = known.get(input.id);
    milestone.features.push({
      failedSessions: 0,
      ...old,
      id: input.id,
      kind: kindOf(model, input.id, input.skillName),
      description: input.description ?? old?.description,
      status: asFeatureStatus(input.status) ?? old?.status ?? 'pending',
      place: input.place ?? old?.place,
    });
  }
  // A milestone no feature names any more goes, unless the plan (state.json) names it.
  model.milestones = milestones.filter((m) => m.features.length > 0 || planned(model, m.name));
  markPassedByValidators(model);
}

/** Milestone names the plan recorded (state.json's `milestones`), kept on the model's nodes. */
function planned(model: MissionModel, name: string): boolean {
  return model.plannedMilestones?.includes(name) ?? false;
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

/** Seeds features from the outline, with the statuses and skills features.json holds (when it parses). */
export function applyFeaturesOutline(model: MissionModel, symbols: OutlineSymbol[], featuresUri: string, featuresText?: string): void {
  const { features, milestonePlaces } = featuresFromOutline(symbols, featuresUri);
  const fromFile = new Map((featuresText === undefined ? [] : parseFeaturesFile(featuresText, featuresUri)).map((f) => [f.id, f]));
  setFeatures(model, features.map((f) => ({ ...f, status: fromFile.get(f.id)?.status, skillName: fromFile.get(f.id)?.skillName })));
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
    skillName: typeof f.skillName === 'string' ? f.skillName : undefined,
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
 * validation-state.json: `{ assertions: { "VAL-…": { status: passed|failed|pending,
 * validatedAtMilestone?, issues?, blocked?, round? } } }`. A failed entry with `blocked: true`
 * (the runner's mark) could not be checked. A milestone's round is the latest one its assertions
 * were validated in.
 */
export function applyValidationState(model: MissionModel, text: string): void {
  const root = parseJson(text);
  if (!isObject(root)) return;
  const states = isObject(root.assertions) ? root.assertions : {};
  for (const assertion of model.assertions) {
    const state = states[assertion.id];
    assertion.status = isObject(state) ? assertionStatus(state) : 'pending';
  }
  for (const state of Object.values(states)) {
    if (!isObject(state) || typeof state.validatedAtMilestone !== 'string' || typeof state.round !== 'number') continue;
    const milestone = model.milestones.find((m) => m.name === state.validatedAtMilestone);
    if (milestone && state.round > milestone.round) milestone.round = state.round;
  }
  const current = model.milestones.find((m) => m.name === model.currentMilestone);
  if (current) model.round = Math.max(model.round, current.round);
}

function assertionStatus(state: Record<string, unknown>): AssertionStatus {
  if (state.status === 'failed') return state.blocked === true ? 'blocked' : 'failed';
  return state.status === 'passed' ? 'passed' : 'pending';
}

/**
 * state.json: droid's `{ missionId, state, … }` and the runner's `detailedState`, `haltReason`,
 * `currentMilestone`, `milestones`. `detailedState` counts while it agrees with `state` (droid
 * may have run the mission since and changed `state` alone).
 */
export function applyStateFile(model: MissionModel, text: string): void {
  const root = parseJson(text);
  if (!isObject(root)) return;
  if (typeof root.missionId === 'string') model.id = root.missionId;
  const state = str(root.state);
  const detailed = str(root.detailedState);
  const status = detailed !== undefined && DETAILED_STATES[detailed] !== undefined && (state === undefined || DETAILED_STATES[detailed] === state)
    ? detailed
    : state !== undefined && DROID_STATES.includes(state) ? state : undefined;
  if (status) model.status = status as MissionState;
  model.currentMilestone = str(root.currentMilestone);
  model.haltReason = str(root.haltReason);
  if (Array.isArray(root.milestones)) orderMilestones(model, root.milestones.filter((m): m is string => typeof m === 'string'));
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
const RUN_ENDING_EVENTS: readonly string[] = ['mission_paused', 'mission_completed', 'mission_cancelled', 'question_asked', 'plan_submitted'];

/**
 * Applies one `missions/event` and says what it made stale. Events are progress_log.jsonl lines:
 * droid's types and the runner's own (docs/mission-folder.md); unknown types change nothing.
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
  const feature = () => featureFor(model, featureId!, milestoneName ?? model.currentMilestone);
  switch (event.type) {
    // planning (the runner's own events)
    case 'mission_created':
      if (str(event.missionId)) model.id = str(event.missionId);
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
    // runs (droid's events)
    case 'mission_accepted':
      // The plan is approved; `mission_run_started` follows.
      if (str(event.title)) model.title = str(event.title)!;
      return ['status'];
    case 'mission_run_started':
      model.status = 'running';
      model.haltReason = undefined;
      model.pauseReason = undefined;
      return ['status'];
    case 'mission_resumed':
      // Answers to the planner's questions resume planning; anything else resumes the loop.
      model.status = event.from === 'awaiting_answers' || model.status === 'awaiting_answers' ? 'planning' : 'running';
      model.haltReason = undefined;
      model.pauseReason = undefined;
      return ['features', 'status'];
    case 'mission_paused':
      // A halt is droid's pause with the runner's `halted` and `reason`.
      model.status = event.halted === true ? 'halted' : 'paused';
      model.haltReason = event.halted === true ? str(event.reason) : undefined;
      model.pauseReason = str(event.pauseReason);
      return ['features', 'status'];
    case 'milestone_started':
      model.status = 'running';
      model.round = 0;
      if (milestoneName) {
        model.currentMilestone = milestoneName;
        const milestone = milestoneNamed(model, milestoneName);
        milestone.state = 'running';
        milestone.round = 0;
      }
      return [];
    case 'worker_selected_feature':
    case 'worker_started': {
      if (!featureId) return [];
      const node = feature();
      node.status = 'in_progress';
      if (model.status === 'paused' || model.status === 'halted') return [];
      const milestone = milestoneOf(model, node.id);
      if (node.kind === 'validator') {
        // A validator session starts a round (worker_started says which).
        model.status = 'validating';
        if (typeof event.round === 'number') model.round = event.round;
        if (milestone) {
          model.currentMilestone = milestone.name;
          milestone.state = 'validating';
          milestone.round = model.round;
        }
      } else {
        model.status = 'running';
        if (milestone && (milestone.state === 'pending' || milestone.state === 'failed')) milestone.state = 'running';
      }
      return [];
    }
    case 'worker_completed': {
      if (!featureId) return ['features', 'status'];
      const node = feature();
      const success = event.successState === 'success';
      // droid puts a feature whose session did not succeed back to pending.
      node.status = success ? 'completed' : 'pending';
      node.handoff = str(event.successState);
      node.lastProblem = success ? undefined : handoffProblem(event.handoff);
      if (event.successState === 'failure') node.failedSessions += 1;
      return ['features', 'status'];
    }
    case 'worker_failed':
      if (featureId) {
        const node = feature();
        node.status = 'pending';
        node.failedSessions += 1;
        node.lastProblem = str(event.reason) ?? str(event.failureReason);
      }
      return ['features', 'status'];
    case 'worker_paused':
      if (featureId) feature().status = 'pending';
      return ['features', 'status'];
    case 'handoff_refused':
      if (featureId) feature().lastProblem = `handoff refused: ${str(event.reason) ?? 'no reason given'}`;
      return [];
    case 'merge_conflict':
      if (featureId) feature().lastProblem = `merge conflict${Array.isArray(event.files) ? ` in ${event.files.filter((f) => typeof f === 'string').join(', ')}` : ''}`;
      return ['features', 'status'];
    // validation
    case 'milestone_validation_triggered':
      // The milestone's work is done; its validator features are now at the top of features.json.
      if (model.status !== 'paused' && model.status !== 'halted') model.status = 'validating';
      if (milestoneName) {
        model.currentMilestone = milestoneName;
        milestoneNamed(model, milestoneName).state = 'validating';
      }
      return ['features', 'status'];
    case 'validation_round': {
      if (typeof event.round === 'number') model.round = event.round;
      if (milestoneName) {
        const milestone = milestoneNamed(model, milestoneName);
        milestone.round = model.round;
        milestone.state = event.passed === true ? 'passed' : 'failed';
      }
      return ['validation', 'status'];
    }
    case 'fix_features_added': {
      const ids = Array.isArray(event.featureIds) ? event.featureIds.filter((id): id is string => typeof id === 'string') : [];
      for (const id of ids) {
        if (!model.fixFeatureIds.includes(id)) model.fixFeatureIds.push(id);
        featureFor(model, id, milestoneName ?? model.currentMilestone).kind = 'fix';
      }
      // The failed round is being fixed.
      if (milestoneName) milestoneNamed(model, milestoneName).state = 'running';
      if (model.status !== 'paused' && model.status !== 'halted') model.status = 'running';
      return ['features', 'status'];
    }
    case 'milestone_passed':
      if (milestoneName) milestoneNamed(model, milestoneName).state = 'passed';
      return ['validation', 'status'];
    case 'mission_completed':
      model.status = 'completed';
      markCurrentMilestone(model);
      return ['features', 'validation', 'status'];
    case 'mission_cancelled':
      model.status = 'cancelled';
      return ['status'];
    default:
      return undefined;
  }
}

/** A handoff's own words on what went wrong: its summary, else what it left undone. */
function handoffProblem(handoff: unknown): string | undefined {
  if (!isObject(handoff)) return undefined;
  return str(handoff.salientSummary) || str(handoff.whatWasLeftUndone) || undefined;
}

export interface StatusSummary {
  title: string;
  status?: MissionState;
  /** state.json says a run is at work, but none is alive (it died, or the folder was copied). */
  stalled: boolean;
  currentMilestone?: string;
  round: number;
  haltReason?: string;
  pauseReason?: string;
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
  return {
    title: model.title,
    status: model.status,
    stalled: isStalled(model),
    currentMilestone: model.currentMilestone,
    round: model.round,
    haltReason: model.haltReason,
    pauseReason: model.pauseReason,
    passed,
    total,
    running: model.running,
  };
}

/** A state of work (running, validating, …) that no live runner backs. */
export function isStalled(model: MissionModel): boolean {
  return model.runAlive === false && model.status !== undefined && ACTIVE_STATES.includes(model.status);
}

export function allFeatures(model: MissionModel): FeatureNode[] {
  return model.milestones.flatMap((m) => m.features);
}

/**
 * Marks milestones from what the mission's state says: every one passed when it completed;
 * otherwise the ones before the current milestone passed (the loop moves on only when every
 * assertion of a milestone passed, design §6) and the current one is running or validating.
 */
function markCurrentMilestone(model: MissionModel): void {
  if (model.status === 'completed') {
    model.milestones.forEach((m) => (m.state = 'passed'));
    return;
  }
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

/** A milestone whose validator features both completed has passed its validation. */
function markPassedByValidators(model: MissionModel): void {
  for (const milestone of model.milestones) {
    const validators = milestone.features.filter((f) => f.kind === 'validator');
    if (validators.length > 0 && validators.every((f) => f.status === 'completed')) milestone.state = 'passed';
  }
}

/** Puts the milestones in the plan's order (state.json's `milestones`); others follow as they were. */
function orderMilestones(model: MissionModel, order: string[]): void {
  model.plannedMilestones = order;
  for (const name of order) milestoneNamed(model, name);
  const rank = (name: string) => {
    const at = order.indexOf(name);
    return at < 0 ? order.length : at;
  };
  model.milestones = model.milestones.map((m, i) => ({ m, i })).sort((a, b) => rank(a.m.name) - rank(b.m.name) || a.i - b.i).map(({ m }) => m);
}

function milestoneIn(milestones: MilestoneNode[], name: string): MilestoneNode {
  let milestone = milestones.find((m) => m.name === name);
  if (!milestone) {
    milestone = { name, state: 'pending', round: 0, features: [] };
    milestones.push(milestone);
  }
  return milestone;
}

function milestoneNamed(model: MissionModel, name: string): MilestoneNode {
  return milestoneIn(model.milestones, name);
}

function milestoneOf(model: MissionModel, featureId: string): MilestoneNode | undefined {
  return model.milestones.find((m) => m.features.some((f) => f.id === featureId));
}

/** The feature with `id`; one the model has not seen yet (a new fix feature) joins `milestone`. */
function featureFor(model: MissionModel, id: string, milestone: string | undefined): FeatureNode {
  const existing = allFeatures(model).find((f) => f.id === id);
  if (existing) return existing;
  const feature: FeatureNode = { id, kind: kindOf(model, id), status: 'pending', failedSessions: 0 };
  milestoneNamed(model, milestone ?? '(no milestone)').features.push(feature);
  return feature;
}

function asFeatureStatus(value: unknown): FeatureStatus | undefined {
  return typeof value === 'string' && FEATURE_STATUSES.includes(value) ? (value as FeatureStatus) : undefined;
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
