/** What the CLI touches of the process, so tests can run it in-process with their own. */

import type { Readable } from 'node:stream';

export interface CliStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export type CliSignal = 'SIGINT' | 'SIGTERM';

export interface CliIO {
  /** The input of `aitq run -` (any readable stream). @default process.stdin */
  stdin?: (Readable & { isTTY?: boolean | undefined }) | undefined;
  stdout: CliStream;
  stderr: CliStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Subscribes to a signal; returns the unsubscribe. */
  onSignal(signal: CliSignal, handler: () => void): () => void;
}

/** The real process. */
export const processIO: CliIO = {
  // Made only when read: `process.stdin` opens the stream.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  onSignal(signal, handler) {
    process.on(signal, handler);
    return () => {
      process.off(signal, handler);
    };
  },
};

/** Resolves on the first SIGINT or SIGTERM. */
export function nextSignal(io: CliIO): Promise<CliSignal> {
  return new Promise((resolve) => {
    const offs = (['SIGINT', 'SIGTERM'] as const).map((signal) =>
      io.onSignal(signal, () => {
        for (const off of offs) off();
        resolve(signal);
      }),
    );
  });
}
