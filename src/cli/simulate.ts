/**
 * `aitq simulate`: the built-in OpenAI-compatible simulator on a port, until SIGINT or SIGTERM.
 */

import type { AddressInfo } from 'node:net';
import {
  createSimulatorServer,
  type ResolvedSimulatorOptions,
} from '../providers/simulator/index.js';
import { CliUsageError, EXIT_CODES, type ExitCode } from './errors.js';
import { type CliIO, nextSignal } from './io.js';

/** `http://host:port/v1`, with an IPv6 address in brackets. */
export function simulatorURL(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`;
}

/**
 * Starts the simulator on `host`, prints its URL in one line on stdout, and stops it cleanly on
 * the first SIGINT or SIGTERM (exit 0).
 *
 * @throws CliUsageError when it cannot listen (port in use, unknown host): nothing is left running.
 */
export async function runSimulate(
  host: string,
  options: ResolvedSimulatorOptions,
  io: CliIO,
): Promise<ExitCode> {
  const simulator = createSimulatorServer(options);
  const { server } = simulator;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'the port is in use' : (code ?? String(error));
    throw new CliUsageError(`cannot listen on ${host}:${options.port}: ${reason}`);
  }
  const stopped = nextSignal(io);
  const { port } = server.address() as AddressInfo;
  io.stdout.write(`simulator listening on ${simulatorURL(host, port)} (Ctrl-C to stop)\n`);
  const signal = await stopped;
  await simulator.shutdown();
  io.stderr.write(`simulator stopped (${signal})\n`);
  return EXIT_CODES.ok;
}
