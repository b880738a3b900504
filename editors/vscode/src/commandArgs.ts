// Arguments for the server's mission commands when they are run from the palette or the tree:
// the server wants the mission folder's URI first (design §4), then a feature id
// (`missions.runFeature`) or a milestone (`missions.validateMilestone`). No vscode import.

import type { MissionCommand } from './protocol';

/** The part of a tree node a command can be run on. */
export interface NodeArgument {
  kind: string;
  missionUri: string;
  name?: string;
}

export type ArgumentPlan =
  | { kind: 'ready'; args: unknown[] }
  /** Ask which mission; `candidates` are mission folder URIs. */
  | { kind: 'pickMission'; candidates: string[] }
  /** Ask which feature or milestone of `missionUri`. */
  | { kind: 'pickItem'; missionUri: string; item: 'feature' | 'milestone' };

/** The second argument a command needs, if any. */
export function itemArgument(command: MissionCommand): 'feature' | 'milestone' | undefined {
  if (command === 'missions.runFeature') return 'feature';
  if (command === 'missions.validateMilestone') return 'milestone';
  return undefined;
}

/**
 * What to send for `command` invoked with `args`: arguments from a code lens or code action
 * (a URI string first) pass through; a tree node becomes its mission's URI (and its feature or
 * milestone); no arguments mean the mission in focus, or the only one, or a question.
 */
export function planArguments(command: MissionCommand, args: unknown[], missions: string[], focusedMission: string | undefined): ArgumentPlan {
  const item = itemArgument(command);
  const first = args[0];
  if (typeof first === 'string') {
    return item && args.length < 2 ? { kind: 'pickItem', missionUri: first, item } : { kind: 'ready', args };
  }
  if (isNode(first)) {
    if (!item) return { kind: 'ready', args: [first.missionUri] };
    if (first.kind === item && first.name) return { kind: 'ready', args: [first.missionUri, first.name] };
    return { kind: 'pickItem', missionUri: first.missionUri, item };
  }
  const missionUri = focusedMission ?? (missions.length === 1 ? missions[0] : undefined);
  if (!missionUri) return { kind: 'pickMission', candidates: missions };
  return item ? { kind: 'pickItem', missionUri, item } : { kind: 'ready', args: [missionUri] };
}

function isNode(value: unknown): value is NodeArgument {
  return typeof value === 'object' && value !== null && typeof (value as NodeArgument).missionUri === 'string' && typeof (value as NodeArgument).kind === 'string';
}
