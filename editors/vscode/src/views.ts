// What the "Mission" tree and the status bar item show, as plain data computed from the
// mission models; src/extension.ts only maps it onto vscode's TreeItem and StatusBarItem.

import type { AssertionNode, FeatureKind, FeatureNode, MilestoneNode, MissionModel, StatusSummary } from './missionModel';
import { ACTIVE_STATES, summarize } from './missionModel';

export type NodeKind = 'mission' | 'milestone' | 'feature' | 'assertions' | 'assertion';

export interface TreeNode {
  kind: NodeKind;
  /** Stable across refreshes, so expanded nodes stay expanded. */
  key: string;
  missionUri: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon id, with `~spin` for work under way. */
  icon: string;
  /** A theme color id for the icon, when the status deserves one. */
  color?: string;
  collapsible: boolean;
  /** The id to locate in the document when there is no range (feature or assertion id). */
  target?: { uri: string; range?: MissionModelRange; text: string };
  /** The feature id or milestone name, for commands run on the node. */
  name?: string;
}

type MissionModelRange = NonNullable<NonNullable<FeatureNode['place']>['range']>;

const STATUS_ICONS: Record<string, { icon: string; color?: string }> = {
  pending: { icon: 'circle-outline' },
  in_progress: { icon: 'sync~spin', color: 'charts.blue' },
  running: { icon: 'sync~spin', color: 'charts.blue' },
  validating: { icon: 'beaker', color: 'charts.blue' },
  completed: { icon: 'pass', color: 'testing.iconPassed' },
  passed: { icon: 'pass', color: 'testing.iconPassed' },
  failed: { icon: 'error', color: 'testing.iconFailed' },
  blocked: { icon: 'warning', color: 'list.warningForeground' },
  cancelled: { icon: 'circle-slash' },
  // a pending feature whose last session failed or handed off partial work
  retry: { icon: 'history', color: 'list.warningForeground' },
  // a validator waiting for its milestone's round
  validator: { icon: 'beaker' },
  // work that state.json records as under way, with no run alive to do it
  stopped: { icon: 'debug-pause', color: 'list.warningForeground' },
};

/** While no run is alive, work the files record as under way is stopped, not spinning. */
function shownStatus(status: string, stalled: boolean): string {
  return stalled && (status === 'in_progress' || status === 'running' || status === 'validating') ? 'stopped' : status;
}

const STOPPED_HINT = 'No run is alive (it stopped or crashed); "Start mission" resumes it where the files say.';

function iconFor(status: string): { icon: string; color?: string } {
  return STATUS_ICONS[status] ?? { icon: 'circle-outline' };
}

/** The children of `parent` (the roots when it is undefined). */
export function childrenOf(models: MissionModel[], parent?: TreeNode): TreeNode[] {
  if (!parent) return models.map(missionNode);
  const model = models.find((m) => m.uri === parent.missionUri);
  if (!model) return [];
  switch (parent.kind) {
    case 'mission': {
      const stalled = summarize(model).stalled;
      const nodes = model.milestones.map((m) => milestoneNode(model, m, stalled));
      if (model.assertions.length > 0) nodes.push(assertionsNode(model));
      return nodes;
    }
    case 'milestone': {
      const milestone = model.milestones.find((m) => m.name === parent.name);
      return milestone ? milestone.features.map((f) => featureNode(model, f, summarize(model).stalled)) : [];
    }
    case 'assertions':
      return model.assertions.map((a) => assertionNode(model, a));
    default:
      return [];
  }
}

function missionNode(model: MissionModel): TreeNode {
  const summary = summarize(model);
  const status = summary.status ?? 'unknown';
  const { icon, color } = iconFor(missionIconStatus(summary));
  const label = summary.stalled ? `stopped (state.json: ${statusLabel(status)})` : statusLabel(status);
  return {
    kind: 'mission',
    key: model.uri,
    missionUri: model.uri,
    label: model.title,
    description: `${label}${summary.total > 0 ? ` · ${summary.passed}/${summary.total}` : ''}`,
    tooltip: statusTooltip(summary),
    icon,
    color,
    collapsible: true,
  };
}

function missionIconStatus(summary: StatusSummary): string {
  if (summary.stalled) return 'stopped';
  switch (summary.status) {
    case 'halted':
      return 'failed';
    case 'paused':
    case 'awaiting_answers':
    case 'awaiting_input':
    case 'awaiting_approval':
      return 'blocked';
    case 'initializing':
    case 'orchestrator_turn':
      return 'running';
    case undefined:
      return 'pending';
    default:
      return summary.status;
  }
}

function milestoneNode(model: MissionModel, milestone: MilestoneNode, stalled: boolean): TreeNode {
  // The validators are the milestone's check, not its work: "3/3 features" counts the rest.
  const work = milestone.features.filter((f) => f.kind !== 'validator');
  const done = work.filter((f) => f.status === 'completed').length;
  const state = shownStatus(milestone.state, stalled);
  const { icon, color } = iconFor(state);
  const round = milestone.round > 0 ? ` · round ${milestone.round}` : '';
  return {
    kind: 'milestone',
    key: `${model.uri}#milestone:${milestone.name}`,
    missionUri: model.uri,
    label: milestone.name,
    description: `${state}${round} · ${done}/${work.length} features`,
    icon,
    color,
    collapsible: milestone.features.length > 0,
    name: milestone.name,
    target: milestone.place && { uri: milestone.place.uri, range: milestone.place.range, text: `"${milestone.name}"` },
  };
}

const KIND_LABELS: Record<FeatureKind, string | undefined> = { feature: undefined, fix: 'fix', validator: 'validator' };

function featureNode(model: MissionModel, feature: FeatureNode, stalled: boolean): TreeNode {
  const status = shownStatus(feature.status, stalled);
  // A pending feature whose last session did not succeed waits for another try: worth a look.
  const retrying = feature.status === 'pending' && (feature.failedSessions > 0 || (feature.handoff !== undefined && feature.handoff !== 'success'));
  const { icon, color } = iconFor(retrying ? 'retry' : feature.kind === 'validator' && status === 'pending' ? 'validator' : status);
  const failed = feature.failedSessions > 0 ? `${feature.failedSessions} failed session${feature.failedSessions > 1 ? 's' : ''}` : undefined;
  const lines = [feature.id, feature.description, `status: ${feature.status}`, KIND_LABELS[feature.kind] && `kind: ${KIND_LABELS[feature.kind]}`];
  if (status === 'stopped') lines.push(STOPPED_HINT);
  if (feature.handoff) lines.push(`last handoff: ${feature.handoff}`);
  if (failed) lines.push(failed);
  if (feature.lastProblem) lines.push(`last problem: ${feature.lastProblem}`);
  const description = [status === 'stopped' ? `stopped (${statusLabel(feature.status)})` : statusLabel(feature.status), KIND_LABELS[feature.kind], failed];
  return {
    kind: 'feature',
    key: `${model.uri}#feature:${feature.id}`,
    missionUri: model.uri,
    label: feature.id,
    description: description.filter(Boolean).join(' · '),
    tooltip: lines.filter(Boolean).join('\n'),
    icon,
    color,
    collapsible: false,
    name: feature.id,
    target: feature.place && { uri: feature.place.uri, range: feature.place.range, text: `"${feature.id}"` },
  };
}

function assertionsNode(model: MissionModel): TreeNode {
  const count = (status: string) => model.assertions.filter((a) => a.status === status).length;
  const [passed, failed, blocked] = [count('passed'), count('failed'), count('blocked')];
  const status = failed > 0 ? 'failed' : blocked > 0 ? 'blocked' : passed === model.assertions.length ? 'passed' : 'pending';
  const { icon, color } = iconFor(status);
  return {
    kind: 'assertions',
    key: `${model.uri}#assertions`,
    missionUri: model.uri,
    label: 'Assertions',
    description: `${passed}/${model.assertions.length} passed${failed > 0 ? ` · ${failed} failed` : ''}${blocked > 0 ? ` · ${blocked} blocked` : ''}`,
    icon,
    color,
    collapsible: true,
  };
}

function assertionNode(model: MissionModel, assertion: AssertionNode): TreeNode {
  const { icon, color } = iconFor(assertion.status);
  return {
    kind: 'assertion',
    key: `${model.uri}#assertion:${assertion.id}`,
    missionUri: model.uri,
    label: assertion.id,
    description: `${assertion.status}${assertion.title ? ` · ${assertion.title}` : ''}`,
    tooltip: [assertion.id, assertion.title, assertion.area && `area: ${assertion.area}`, `status: ${assertion.status}`].filter(Boolean).join('\n'),
    icon,
    color,
    collapsible: false,
    name: assertion.id,
    target: assertion.place && { uri: assertion.place.uri, range: assertion.place.range, text: assertion.id },
  };
}

export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** `error` and `warning` pick the status bar item's background. */
  emphasis?: 'error' | 'warning';
}

/** The status bar item for the mission in focus. */
export function statusBarView(summary: StatusSummary): StatusBarView {
  const status = summary.status ?? 'unknown';
  const active = ACTIVE_STATES.includes(status);
  const parts = [summary.stalled ? 'stopped' : statusLabel(status)];
  if (summary.currentMilestone && active) {
    parts.push(summary.round > 0 ? `${summary.currentMilestone} r${summary.round}` : summary.currentMilestone);
  }
  if (summary.total > 0) parts.push(`${summary.passed}/${summary.total}`);
  // A wait for the provider shows while it lasts, with its seconds.
  if (active && !summary.stalled && summary.running?.waiting) parts.push(`$(watch) ${summary.running.waiting}`);
  const icon = summary.stalled ? '$(debug-pause)' : active ? '$(sync~spin)' : status === 'completed' ? '$(pass)' : status === 'halted' ? '$(error)' : '$(checklist)';
  const emphasis = status === 'halted' ? 'error' : summary.stalled || status === 'paused' || status.startsWith('awaiting') ? 'warning' : undefined;
  return { text: `${icon} ${parts.join(' · ')}`, tooltip: statusTooltip(summary), emphasis };
}

function statusTooltip(summary: StatusSummary): string {
  const lines = [`Mission: ${summary.title}`, `Status: ${statusLabel(summary.status ?? 'unknown')}`];
  if (summary.stalled) lines.push(STOPPED_HINT);
  if (summary.currentMilestone) lines.push(`Milestone: ${summary.currentMilestone}${summary.round > 0 ? `, round ${summary.round}` : ''}`);
  if (summary.total > 0) lines.push(`Assertions passed: ${summary.passed}/${summary.total}`);
  if (summary.haltReason) lines.push(`Halted: ${summary.haltReason}`);
  if (summary.pauseReason) lines.push(`Pause reason: ${statusLabel(summary.pauseReason)}`);
  const running = summary.running;
  if (running && !summary.stalled) running.now.forEach((now) => lines.push(`Now: ${now}`));
  if (running?.spent) {
    lines.push(`Tokens: ${running.spent.tokens}`);
    if (running.spent.cost) lines.push(`Cost: ${running.spent.cost}`);
  }
  running?.budgets.forEach((b) => lines.push(`Budget: ${b}`));
  return lines.join('\n');
}
