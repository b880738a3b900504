// Drives the real `missions lsp` binary over stdio with vscode-languageserver-protocol, the
// library under vscode-languageclient. Used by lsp.test.ts.

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigurationRequest,
  createProtocolConnection,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import type { InitializeResult, ProtocolConnection, PublishDiagnosticsParams } from 'vscode-languageserver-protocol/node';

export const REPO = resolve(__dirname, '../../../..');

/** MISSIONS_BIN, else the debug build `cargo test` leaves, else the release build. */
export function missionsBinary(): string | undefined {
  const candidates = [process.env.MISSIONS_BIN, resolve(REPO, 'target/debug/missions'), resolve(REPO, 'target/release/missions')];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

export function fileUri(path: string): string {
  return pathToFileURL(path).toString();
}

export interface Session {
  connection: ProtocolConnection;
  process: ChildProcessWithoutNullStreams;
  initializeResult: InitializeResult;
  /** Resolves with the first publication for `uri` that `accept` takes. */
  diagnostics(uri: string, accept?: (p: PublishDiagnosticsParams) => boolean, timeoutMs?: number): Promise<PublishDiagnosticsParams>;
  /** The `workspace/configuration` items the server asked for, in order. */
  configurationRequests: string[];
  stop(): Promise<number | null>;
}

export async function startSession(binary: string, rootPath: string, answerConfiguration: (section: string | undefined) => unknown): Promise<Session> {
  const child = spawn(binary, ['lsp'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const published: PublishDiagnosticsParams[] = [];
  const waiters: Array<() => void> = [];
  connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
    published.push(params);
    waiters.splice(0).forEach((wake) => wake());
  });
  const configurationRequests: string[] = [];
  connection.onRequest(ConfigurationRequest.type, (params) =>
    params.items.map((item) => {
      configurationRequests.push(item.section ?? '');
      return answerConfiguration(item.section);
    }),
  );
  connection.listen();

  const initializeResult = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: fileUri(rootPath),
    workspaceFolders: [{ uri: fileUri(rootPath), name: 'missions' }],
    capabilities: {
      workspace: { configuration: true, workspaceFolders: true },
      textDocument: {
        synchronization: { dynamicRegistration: false },
        publishDiagnostics: { relatedInformation: true, versionSupport: true },
        documentSymbol: { hierarchicalDocumentSymbolSupport: true },
        hover: { contentFormat: ['markdown', 'plaintext'] },
      },
      window: { workDoneProgress: true },
    },
  });
  await connection.sendNotification(InitializedNotification.type, {});

  const diagnostics = (uri: string, accept = (_: PublishDiagnosticsParams) => true, timeoutMs = 15_000) =>
    new Promise<PublishDiagnosticsParams>((resolvePublication, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
      const check = () => {
        const found = published.find((p) => p.uri === uri && accept(p));
        if (found) {
          clearTimeout(timer);
          resolvePublication(found);
        } else {
          waiters.push(check);
        }
      };
      check();
    });

  const stop = async () => {
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    await connection.sendRequest(ShutdownRequest.type);
    await connection.sendNotification(ExitNotification.type);
    const code = await exited;
    connection.dispose();
    return code;
  };

  return { connection, process: child, initializeResult, diagnostics, configurationRequests, stop };
}
