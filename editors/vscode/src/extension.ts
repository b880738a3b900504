// The VS Code side of `missions`: starts `missions lsp` and shows what the server says. The
// language client registers the server's commands itself; this file adds the log and restart
// commands, the "Mission" tree, the status bar item, and the settings the server asks for.

import * as vscode from 'vscode';
import { ErrorCodes, LanguageClient, ResponseError, State, TransportKind } from 'vscode-languageclient/node';
import type { LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';

import { planArguments } from './commandArgs';
import type { MissionModel, Reload } from './missionModel';
import {
  applyContractOutline,
  applyEvent,
  applyFeaturesOutline,
  applyMissionMarkdown,
  applyServerStatus,
  applyStateFile,
  applyValidationState,
  createMission,
  parseFeaturesFile,
  setFeatures,
  summarize,
} from './missionModel';
import type { MissionEventParams, MissionStatus, OutlineSymbol } from './protocol';
import { MISSION_EVENT_METHOD, MISSION_STATUS_METHOD, isMissionCommand, normalizeUri, sameMissionUri } from './protocol';
import { findServerBinary, missingServerMessage } from './serverBinary';
import { configurationItem, serverSettings } from './settings';
import type { TreeNode } from './views';
import { childrenOf, statusBarView } from './views';

/** The documents the server is started for; other files get diagnostics by publication only. */
export const DOCUMENT_SELECTOR = [
  { scheme: 'file', pattern: '**/features.json' },
  { scheme: 'file', pattern: '**/validation-contract.md' },
  { scheme: 'file', pattern: '**/.missions/**' },
];

const MISSION_FILES_GLOB = '**/{features.json,validation-contract.md,state.json,validation-state.json}';
/** Also watched: a runner's lock comes and goes with its run (the status says whether one is alive). */
const WATCHED_GLOB = '**/{features.json,validation-contract.md,state.json,validation-state.json,run.lock}';
const EXCLUDED_FOLDERS = '**/{node_modules,target,.git}/**';
const LIVE_STATUS_EVERY_MS = 5000;

let controller: MissionsController | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new MissionsController(context);
  await controller.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stopClient();
}

class MissionsController implements vscode.TreeDataProvider<TreeNode> {
  private client: LanguageClient | undefined;
  private readonly log = vscode.window.createOutputChannel('Missions');
  private readonly statusBar = vscode.window.createStatusBarItem('missions.status', vscode.StatusBarAlignment.Left, 10);
  private readonly treeChanged = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.treeChanged.event;
  private missions = new Map<string, MissionModel>();
  /** False once the server answered `missions/status` with MethodNotFound. */
  private serverHasStatus = true;
  private lastEventMission: string | undefined;
  private readonly pendingReloads = new Map<string, Set<Reload>>();
  private reloadTimer: NodeJS.Timeout | undefined;
  /** While a run is alive, its status (waits, tokens, cost) is asked for again this often. */
  private readonly liveTimer = setInterval(() => this.refreshLiveStatus(), LIVE_STATUS_EVERY_MS);

  constructor(context: vscode.ExtensionContext) {
    this.statusBar.name = 'Mission';
    this.statusBar.command = 'missions.tree.focus';
    const watcher = vscode.workspace.createFileSystemWatcher(WATCHED_GLOB);
    const onFile = (uri: vscode.Uri) => this.onMissionFileChanged(uri);
    const onCreateOrDelete = (uri: vscode.Uri) => (uri.path.endsWith('/run.lock') ? onFile(uri) : void this.discoverMissions());
    context.subscriptions.push(
      this.log,
      this.statusBar,
      this.treeChanged,
      watcher,
      watcher.onDidCreate(onCreateOrDelete),
      watcher.onDidChange(onFile),
      watcher.onDidDelete(onCreateOrDelete),
      vscode.window.registerTreeDataProvider('missions.tree', this),
      vscode.window.onDidChangeActiveTextEditor(() => this.renderStatusBar()),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
      vscode.commands.registerCommand('missions.restartServer', () => this.restart()),
      vscode.commands.registerCommand('missions.showLog', () => this.log.show(true)),
      vscode.commands.registerCommand('missions.refreshTree', () => this.discoverMissions()),
      vscode.commands.registerCommand('missions.openPlace', (node: TreeNode) => openPlace(node)),
      { dispose: () => clearInterval(this.liveTimer) },
    );
  }

  /** A live run changes what it waits for and spends without events: its status is read again. */
  private refreshLiveStatus(): void {
    const live = [...this.missions.values()].filter((m) => m.runAlive);
    if (live.length === 0 || !this.client?.isRunning()) return;
    void Promise.all(live.map((m) => this.reloadStatus(m, vscode.Uri.parse(m.uri)))).then(() => this.renderStatusBar());
  }

  async start(): Promise<void> {
    await this.startClient();
    await this.discoverMissions();
  }

  private async startClient(): Promise<void> {
    const setting = vscode.workspace.getConfiguration('missions').get<string>('server.path', 'missions');
    const binary = findServerBinary(setting);
    if (!binary) {
      const message = missingServerMessage(setting);
      this.log.appendLine(message);
      void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log').then((choice) => {
        if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'missions.server.path');
        if (choice === 'Show Log') this.log.show(true);
      });
      return;
    }
    this.log.appendLine(`Starting ${binary} lsp`);
    // The stdio transport makes the client append `--stdio`, which `missions lsp` takes.
    const serverOptions: ServerOptions = { command: binary, args: ['lsp'], transport: TransportKind.stdio };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.log,
      traceOutputChannel: this.log,
      middleware: {
        workspace: {
          configuration: (params) => {
            const settings = this.currentSettings();
            return params.items.map((item) => configurationItem(settings, item.section));
          },
        },
        executeCommand: async (command, args, next) => {
          if (!isMissionCommand(command)) return next(command, args);
          const resolved = await this.commandArguments(command, args);
          return resolved ? next(command, resolved) : undefined;
        },
      },
    };
    const client = new LanguageClient('missions', 'Missions', serverOptions, clientOptions);
    client.onNotification(MISSION_EVENT_METHOD, (params: MissionEventParams) => this.onMissionEvent(params));
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.log.appendLine(`The missions server did not start: ${String(error)}`);
      void vscode.window.showErrorMessage(`The missions server did not start: ${String(error)}. See "Missions: Show log".`);
      return;
    }
    this.serverHasStatus = true;
    const commands = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    await vscode.commands.executeCommand('setContext', 'missions.serverCommands', commands);
  }

  async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) await client.dispose();
  }

  private async restart(): Promise<void> {
    await this.stopClient();
    await this.start();
  }

  private currentSettings() {
    const config = vscode.workspace.getConfiguration('missions');
    return serverSettings((key) => {
      const inspected = config.inspect(key);
      return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
    });
  }

  private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (event.affectsConfiguration('missions.server.path')) {
      void vscode.window.showInformationMessage('"missions.server.path" changed.', 'Restart server').then((choice) => {
        if (choice) void this.restart();
      });
    } else if (event.affectsConfiguration('missions.roles') || event.affectsConfiguration('missions.limits')) {
      // Pushed in missions.toml's shape; a server that pulls gets the same through workspace/configuration.
      void this.client?.sendNotification('workspace/didChangeConfiguration', { settings: { missions: this.currentSettings() } });
    }
  }

  // ---- missions and their models

  /** Finds mission folders (features.json + contract, or state.json + mission.md or working_directory.txt). */
  private async discoverMissions(): Promise<void> {
    const files = await vscode.workspace.findFiles(MISSION_FILES_GLOB, EXCLUDED_FOLDERS, 1000);
    const folders = new Map<string, vscode.Uri>();
    for (const file of files) {
      const folder = vscode.Uri.joinPath(file, '..');
      if (!folders.has(folder.toString()) && (await isMissionFolder(folder))) folders.set(folder.toString(), folder);
    }
    const next = new Map<string, MissionModel>();
    for (const [key, folder] of folders) next.set(key, this.missions.get(key) ?? createMission(folder.toString()));
    this.missions = next;
    await vscode.commands.executeCommand('setContext', 'missions.active', next.size > 0);
    await Promise.all([...next.values()].map((m) => this.reload(m, ['features', 'contract', 'validation', 'status'])));
    this.refresh();
  }

  private async reload(model: MissionModel, what: Iterable<Reload>): Promise<void> {
    const folder = vscode.Uri.parse(model.uri);
    const parts = new Set(what);
    try {
      if (parts.has('features')) await this.reloadFeatures(model, vscode.Uri.joinPath(folder, 'features.json'));
      if (parts.has('contract')) {
        const contract = vscode.Uri.joinPath(folder, 'validation-contract.md');
        const outline = await this.outline(contract);
        if (outline) applyContractOutline(model, outline, contract.toString());
        parts.add('validation');
      }
      if (parts.has('validation')) {
        const text = await readText(vscode.Uri.joinPath(folder, 'validation-state.json'));
        if (text !== undefined) applyValidationState(model, text);
      }
      if (parts.has('status')) await this.reloadStatus(model, folder);
    } catch (error) {
      this.log.appendLine(`Could not refresh ${model.uri}: ${String(error)}`);
    }
  }

  private async reloadFeatures(model: MissionModel, features: vscode.Uri): Promise<void> {
    const text = await readText(features);
    const outline = await this.outline(features);
    if (outline) applyFeaturesOutline(model, outline, features.toString(), text);
    else if (text !== undefined) setFeatures(model, parseFeaturesFile(text, features.toString()));
  }

  private async reloadStatus(model: MissionModel, folder: vscode.Uri): Promise<void> {
    // mission.md and state.json first: the title, and the plan's milestone order (the queue in
    // features.json reorders); the server's answer then adds the counts and whether a run is alive.
    const mission = await readText(vscode.Uri.joinPath(folder, 'mission.md'));
    if (mission !== undefined) applyMissionMarkdown(model, mission);
    const text = await readText(vscode.Uri.joinPath(folder, 'state.json'));
    if (text !== undefined) applyStateFile(model, text);
    if (!this.client?.isRunning() || !this.serverHasStatus) return;
    try {
      const status = await this.client.sendRequest<MissionStatus | null>(MISSION_STATUS_METHOD, { missionUri: model.uri });
      if (status) applyServerStatus(model, status);
    } catch (error) {
      if (error instanceof ResponseError && error.code === ErrorCodes.MethodNotFound) this.serverHasStatus = false;
      else this.log.appendLine(`missions/status failed: ${String(error)}`);
    }
  }

  /** The server's outline of a mission document; undefined without a server or a document. */
  private async outline(uri: vscode.Uri): Promise<OutlineSymbol[] | undefined> {
    if ((await readText(uri)) === undefined) return undefined;
    // Right after start the server may not have found the workspace's missions yet and answers
    // null; ask again a few times before falling back.
    for (let attempt = 0; attempt < 4; attempt++) {
      if (!this.client?.isRunning()) return undefined;
      const result = await this.client.sendRequest<OutlineSymbol[] | null>('textDocument/documentSymbol', { textDocument: { uri: uri.toString() } });
      if (result) return result.length > 0 && 'selectionRange' in result[0] ? result : undefined;
      await new Promise((wake) => setTimeout(wake, 250 * (attempt + 1)));
    }
    return undefined;
  }

  private onMissionEvent({ missionUri, event }: MissionEventParams): void {
    let model = [...this.missions.values()].find((m) => sameMissionUri(m.uri, missionUri));
    if (!model) {
      model = createMission(missionUri);
      this.missions.set(missionUri, model);
      void vscode.commands.executeCommand('setContext', 'missions.active', true);
    }
    this.lastEventMission = model.uri;
    this.scheduleReload(model, applyEvent(model, event));
    this.refresh();
  }

  private onMissionFileChanged(uri: vscode.Uri): void {
    const folder = vscode.Uri.joinPath(uri, '..').toString();
    const model = this.missions.get(folder);
    if (!model) return;
    const name = uri.path.split('/').pop();
    const what: Reload[] = name === 'features.json' ? ['features'] : name === 'validation-contract.md' ? ['contract'] : name === 'validation-state.json' ? ['validation'] : ['status'];
    this.scheduleReload(model, what);
  }

  /** Events come in bursts (a round logs several); read the files once per burst. */
  private scheduleReload(model: MissionModel, what: Reload[]): void {
    if (what.length === 0) return;
    const pending = this.pendingReloads.get(model.uri) ?? new Set<Reload>();
    what.forEach((w) => pending.add(w));
    this.pendingReloads.set(model.uri, pending);
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      const batch = [...this.pendingReloads];
      this.pendingReloads.clear();
      void Promise.all(batch.map(([uri, parts]) => {
        const target = this.missions.get(uri) ?? [...this.missions.values()].find((m) => m.uri === uri);
        return target ? this.reload(target, parts) : undefined;
      })).then(() => this.refresh());
    }, 150);
  }

  // ---- views

  private refresh(): void {
    this.treeChanged.fire(undefined);
    this.renderStatusBar();
  }

  /** The mission of the active editor's file, else the one that last sent an event, else the first. */
  private focusedMission(): MissionModel | undefined {
    const models = [...this.missions.values()];
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    const byEditor = active && models.filter((m) => normalizeUri(active).startsWith(`${normalizeUri(m.uri)}/`)).sort((a, b) => b.uri.length - a.uri.length)[0];
    return byEditor || models.find((m) => m.uri === this.lastEventMission) || models[0];
  }

  private renderStatusBar(): void {
    const model = this.focusedMission();
    if (!model) {
      this.statusBar.hide();
      return;
    }
    const view = statusBarView(summarize(model));
    this.statusBar.text = view.text;
    this.statusBar.tooltip = view.tooltip;
    this.statusBar.backgroundColor = view.emphasis && new vscode.ThemeColor(`statusBarItem.${view.emphasis}Background`);
    this.statusBar.show();
  }

  getChildren(element?: TreeNode): TreeNode[] {
    return childrenOf([...this.missions.values()], element);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, node.collapsible ? (node.kind === 'mission' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None);
    item.id = node.key;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.kind;
    item.iconPath = new vscode.ThemeIcon(node.icon, node.color ? new vscode.ThemeColor(node.color) : undefined);
    if (node.target) item.command = { command: 'missions.openPlace', title: 'Open', arguments: [node] };
    return item;
  }

  // ---- command arguments

  private async commandArguments(command: Parameters<typeof planArguments>[0], args: unknown[]): Promise<unknown[] | undefined> {
    const missions = [...this.missions.values()];
    const focused = vscode.window.activeTextEditor ? this.focusedMission()?.uri : undefined;
    let plan = planArguments(command, args, missions.map((m) => m.uri), focused);
    if (plan.kind === 'pickMission') {
      const picked = await vscode.window.showQuickPick(missions.map((m) => ({ label: m.title, description: vscode.Uri.parse(m.uri).fsPath, uri: m.uri })), { placeHolder: 'Which mission?' });
      if (!picked) return undefined;
      plan = planArguments(command, [picked.uri, ...args.slice(1)], [], undefined);
    }
    if (plan.kind === 'pickItem') {
      const model = missions.find((m) => sameMissionUri(m.uri, plan.missionUri));
      const items: vscode.QuickPickItem[] = plan.item === 'feature'
        ? (model?.milestones ?? []).flatMap((m) => m.features.map((f) => ({ label: f.id, description: `${m.name} · ${f.status}`, detail: f.description })))
        : (model?.milestones ?? []).map((m) => ({ label: m.name, description: m.state }));
      const picked = await vscode.window.showQuickPick(items, { placeHolder: plan.item === 'feature' ? 'Which feature?' : 'Which milestone?' });
      return picked ? [plan.missionUri, picked.label] : undefined;
    }
    return plan.kind === 'ready' ? plan.args : undefined;
  }
}

/** A planned folder (features.json and the contract), or one droid or `missions new` started (state.json beside mission.md or working_directory.txt). */
async function isMissionFolder(folder: vscode.Uri): Promise<boolean> {
  const has = async (name: string) => (await readText(vscode.Uri.joinPath(folder, name))) !== undefined;
  if ((await has('features.json')) && (await has('validation-contract.md'))) return true;
  return (await has('state.json')) && ((await has('mission.md')) || (await has('working_directory.txt')));
}

/** An open buffer's text (it may be ahead of the disk), else the file's; undefined when missing. */
async function readText(uri: vscode.Uri): Promise<string | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined;
  }
}

async function openPlace(node: TreeNode): Promise<void> {
  if (!node.target) return;
  const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(node.target.uri));
  let selection: vscode.Range | undefined;
  if (node.target.range) {
    const { start, end } = node.target.range;
    selection = new vscode.Range(start.line, start.character, end.line, end.character);
  } else {
    // Known only from the file (no server outline): the first occurrence of the id.
    const offset = document.getText().indexOf(node.target.text);
    if (offset >= 0) selection = new vscode.Range(document.positionAt(offset), document.positionAt(offset + node.target.text.length));
  }
  await vscode.window.showTextDocument(document, { selection, preview: true });
}
