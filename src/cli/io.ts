/** What the CLI touches of the process, so tests can run it in-process with their own. */

export interface CliStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export type CliSignal = 'SIGINT' | 'SIGTERM';

export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Subscribes to a signal; returns the unsubscribe. */
  onSignal(signal: CliSignal, handler: () => void): () => void;
}

/** The real process. */
export const processIO: CliIO = {
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
