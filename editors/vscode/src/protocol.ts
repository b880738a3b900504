// The mission-loop part of the server's protocol (design §4). Plain types: no vscode import, so
// the models built on them are unit-tested under plain Node.

/** Server commands; each takes the mission folder's URI first. */
export const MISSION_COMMANDS = [
  'missions.start',
  'missions.approvePlan',
  'missions.pause',
  'missions.resume',
  'missions.cancel',
  'missions.runFeature',
  'missions.validateMilestone',
  'missions.status',
] as const;
export type MissionCommand = (typeof MISSION_COMMANDS)[number];

export function isMissionCommand(command: string): command is MissionCommand {
  return (MISSION_COMMANDS as readonly string[]).includes(command);
}

/** Notification: every progress_log.jsonl event as it is written. */
export const MISSION_EVENT_METHOD = 'missions/event';
/** Request `{ missionUri }` → {@link MissionStatus}. */
export const MISSION_STATUS_METHOD = 'missions/status';

/**
 * Where a mission stands: the runner's finer status (state.json's `detailedState`, what
 * `missions/status` answers), or droid's own `state` where no finer one agrees with it
 * (`awaiting_input`, `initializing`, `orchestrator_turn`).
 */
export type MissionState =
  | 'planning'
  | 'awaiting_input'
  | 'initializing'
  | 'orchestrator_turn'
  | 'awaiting_answers'
  | 'awaiting_approval'
  | 'running'
  | 'validating'
  | 'paused'
  | 'halted'
  | 'completed'
  | 'cancelled';

/** One line of progress_log.jsonl: `timestamp`, `type` and the type's fields (docs/mission-folder.md). */
export interface ProgressEvent {
  timestamp?: string;
  type: string;
  [field: string]: unknown;
}

export interface MissionEventParams {
  missionUri: string;
  event: ProgressEvent;
}

export interface MissionStatus {
  missionUri: string;
  /** state.json's `missionId`. */
  id: string;
  /** mission.md's first heading. */
  title: string;
  /** The runner's status (`detailedState` where it agrees with `state`). */
  status: MissionState;
  /** droid's `state`, as state.json has it. */
  state?: string;
  currentMilestone: string | null;
  /** The latest validation round of the current milestone (0: none yet). */
  round: number;
  haltReason?: string;
  /** Features per status, validators not counted. */
  features: Record<string, number>;
  /** Validator features per status. */
  validators?: Record<string, number>;
  /** Assertions per latest validation status (`passed`, `failed`, `blocked`, `pending`). */
  assertions: Record<string, number>;
  /** Whether a runner holds the mission now (its run lock); absent from older servers. */
  runAlive?: boolean;
  /** The sessions a live run has in flight, and what each waits for. */
  now?: RunningSession[];
  /** The mission's tokens and cost so far as `missions status` prints them (when a run recorded any). */
  spendText?: { summary: string; tokens: string; cost: string | null };
  /** The configured budgets and how much of each is spent. */
  budgets?: { limit: string; share: number; description: string }[];
}

export interface RunningSession {
  who: string;
  kind: string;
  startedAt: string;
  /** `worker feat-add for 1.5 min, waiting for the provider, 42 s`. */
  description?: string;
  waiting?: { what: string; since: string; seconds: number };
}

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

/** The subset of LSP's DocumentSymbol the tree reads. */
export interface OutlineSymbol {
  name: string;
  detail?: string;
  kind: number;
  range: Range;
  selectionRange: Range;
  children?: OutlineSymbol[];
}

/** LSP SymbolKind values the server uses for mission outlines (server/src/lsp/symbols.rs). */
export const SymbolKinds = { area: 3, milestone: 4, feature: 5, assertion: 14 } as const;

/** Mission folder URIs compare equal however they were spelled (percent-encoding, trailing slash). */
export function sameMissionUri(a: string, b: string): boolean {
  return normalizeUri(a) === normalizeUri(b);
}

export function normalizeUri(uri: string): string {
  let out = uri;
  try {
    out = decodeURIComponent(uri);
  } catch {
    // keep the spelling we got: a stray '%' is not worth failing over
  }
  return out.replace(/\/+$/, '');
}
