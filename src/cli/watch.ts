/**
 * Watching a job while it runs: `--dashboard` (the live dashboard, its URL printed with its
 * token), `--dashboard-port`, `--dashboard-wait` (kept until Ctrl-C once the job ended), and
 * `--inspect` / `--inspect-url` (the Stately inspector, hosted or on a WebSocket server).
 */

import type { InspectionEvent, Observer } from 'xstate';
import { describeValue } from '../config/index.js';
import { type DashboardServer, serveDashboard } from '../dashboard/index.js';
import type { AITaskManager, AITaskManagerOptions } from '../index.js';
import { serveInspectorViewer, statelyInspector } from '../observability/index.js';
import { CliUsageError } from './errors.js';
import type { Values } from './flags.js';
import { type CliIO, nextSignal } from './io.js';

export interface WatchArgs {
  dashboard: boolean;
  /** 0: a free port. */
  dashboardPort: number;
  /** Keep the dashboard once the job ended, until Ctrl-C. */
  dashboardWait: boolean;
  /** `'local'`: the viewer served on loopback; a `ws://` URL: an inspector server of the user's. */
  inspect: 'local' | string | undefined;
}

/** Flags that take the watch options. */
export const WATCH_FLAGS = [
  'dashboard',
  'dashboard-port',
  'dashboard-wait',
  'inspect',
  'inspect-url',
];

/** Reads the watch flags. @throws CliUsageError naming the flag and the value */
export function watchArgsOf(values: Values): WatchArgs {
  const portText = values['dashboard-port'];
  let dashboardPort = 0;
  if (typeof portText === 'string') {
    dashboardPort = Number(portText);
    if (!/^\d+$/.test(portText.trim()) || dashboardPort > 65_535) {
      throw new CliUsageError(
        `--dashboard-port: expected a port from 0 to 65535 (received ${describeValue(portText)})`,
      );
    }
  }
  const dashboard =
    values.dashboard === true || typeof portText === 'string' || values['dashboard-wait'] === true;
  const url = values['inspect-url'];
  if (typeof url === 'string' && !/^wss?:\/\/./.test(url)) {
    throw new CliUsageError(
      `--inspect-url: expected a ws:// or wss:// URL of an inspector server (received ${describeValue(url)})`,
    );
  }
  return {
    dashboard,
    dashboardPort,
    dashboardWait: values['dashboard-wait'] === true,
    inspect: typeof url === 'string' ? url : values.inspect === true ? 'local' : undefined,
  };
}

/** What a job starts to be watched, and ends with it. */
export class JobWatch {
  readonly #args: WatchArgs;
  readonly #io: CliIO;
  readonly #inspector: { inspect: Observer<InspectionEvent>; stop(): unknown } | undefined;
  #dashboard: DashboardServer | undefined;

  private constructor(
    args: WatchArgs,
    io: CliIO,
    inspector: { inspect: Observer<InspectionEvent>; stop(): unknown } | undefined,
  ) {
    this.#args = args;
    this.#io = io;
    this.#inspector = inspector;
  }

  /** Starts the inspector (`--inspect`: its page on loopback, said on stderr). */
  static async start(args: WatchArgs, io: CliIO): Promise<JobWatch> {
    if (args.inspect === undefined) return new JobWatch(args, io, undefined);
    if (args.inspect !== 'local') {
      io.stderr.write(`aitq: --inspect-url: the actor system's events go to ${args.inspect}\n`);
      return new JobWatch(args, io, statelyInspector({ url: args.inspect }));
    }
    const viewer = await serveInspectorViewer();
    io.stderr.write(
      `aitq: --inspect: watch the actor system at ${viewer.url} (the viewer loads from stately.ai)\n`,
    );
    return new JobWatch(args, io, viewer);
  }

  /** The manager options it adds (the inspection observer). */
  managerOptions(): Pick<AITaskManagerOptions, 'inspect'> {
    return this.#inspector === undefined ? {} : { inspect: this.#inspector.inspect };
  }

  /** Starts the dashboard on the running manager; says its URL (with the token) on stderr. */
  async attach(manager: AITaskManager): Promise<void> {
    if (!this.#args.dashboard) return;
    const port = this.#args.dashboardPort;
    try {
      this.#dashboard = await serveDashboard(manager, { port });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
      throw new CliUsageError(
        `--dashboard-port: cannot listen on 127.0.0.1:${port} (${code === 'EADDRINUSE' ? 'in use' : 'not permitted'}): choose another port, or 0 for a free one`,
      );
    }
    this.#io.stderr.write(`aitq: --dashboard: ${this.#dashboard.url}\n`);
  }

  /** Once the job ended: with `--dashboard-wait`, waits for Ctrl-C; then closes everything. */
  async close({ wait }: { wait: boolean }): Promise<void> {
    if (wait && this.#args.dashboardWait && this.#dashboard !== undefined) {
      this.#io.stderr.write(
        `aitq: the job ended; the dashboard stays at ${this.#dashboard.url} until Ctrl-C\n`,
      );
      await nextSignal(this.#io);
    }
    await this.#dashboard?.close();
    await this.#inspector?.stop();
  }
}
