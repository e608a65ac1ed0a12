import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The host as a URL names it: a wildcard address as loopback, an IPv6 literal in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts `server` on `host:port` (0: a free port); resolves with the port it got and the origin
 * to print (`http://127.0.0.1:PORT`), or rejects with the listen error (`EADDRINUSE`…).
 */
export async function listenHttp(
  server: Server,
  port: number,
  host: string,
): Promise<{ port: number; origin: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, origin: `http://${urlHost(host)}:${bound}` };
}
