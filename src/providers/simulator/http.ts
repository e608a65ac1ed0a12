/** Small node:http helpers: reading a JSON body and writing an answer. */

import type { IncomingMessage, ServerResponse } from 'node:http';

/** What reading a body gave. */
export type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; reason: 'malformed' | 'too-large' | 'aborted' };

/**
 * Reads the whole request body and parses it as JSON. A body larger than `maxBytes` (by its
 * `content-length`, or as it arrives) is drained without being kept, then refused.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = Number(req.headers['content-length'] ?? 0) > maxBytes;
  try {
    for await (const chunk of req) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += buffer.length;
      // Keep draining past the limit so the 413 can still be written on this connection.
      if (size > maxBytes) tooLarge = true;
      if (tooLarge) chunks.length = 0;
      else chunks.push(buffer);
    }
  } catch {
    return { ok: false, reason: 'aborted' };
  }
  if (tooLarge) return { ok: false, reason: 'too-large' };
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

/** Writes an answer whose body is already text; does nothing if the client is gone. */
export function writeAnswer(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string>,
): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}
