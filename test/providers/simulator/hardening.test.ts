import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { countChatTokens } from '../../../src/limits/tokens.js';
import { startSimulator } from '../../../src/providers/simulator/index.js';
import { resolveSimulatorOptions } from '../../../src/providers/simulator/options.js';
import { createSimulatorServer } from '../../../src/providers/simulator/server.js';

/** POSTs a JSON body with node:http; resolves with the status and the parsed answer. */
function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: { error?: { message: string; type: string; param: unknown } };
}> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        }),
      );
    });
    req.on('error', reject);
    req.end(text);
  });
}

function chatWithSchema(schema: Record<string, unknown>) {
  return {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Summarise the queue design' }],
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
  };
}

describe('simulator: generated sizes are capped', () => {
  it.each([
    [
      'a string longer than 10000 characters',
      { type: 'object', properties: { summary: { type: 'string', minLength: 50_000 } } },
      /'minLength' is 50000 at 'summary'.*at most 10000 characters/,
    ],
    [
      'an array of more than 1000 items (a 250-byte request that ran the simulator out of memory)',
      { type: 'array', items: { type: 'string' }, minItems: 1e8 },
      /'minItems' is 100000000 at the root of the answer.*at most 1000 items/,
    ],
    [
      'a record of more than 1000 entries',
      { type: 'object', additionalProperties: { type: 'integer' }, minProperties: 5_000 },
      /'minProperties' is 5000.*at most 1000 entries/,
    ],
    [
      'an answer larger than 1 MiB',
      {
        type: 'object',
        properties: {
          rows: { type: 'array', minItems: 1_000, items: { type: 'string', minLength: 2_000 } },
        },
        required: ['rows'],
      },
      /larger than 1048576 bytes/,
    ],
  ])(
    'answers 400 invalid_request_error to %s, and serves the next request',
    async (_, schema, message) => {
      const sim = await startSimulator();
      try {
        const refused = await post(`${sim.url}/chat/completions`, chatWithSchema(schema));
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({
          type: 'invalid_request_error',
          param: 'response_format',
        });
        expect(refused.body.error?.message).toMatch(message);
        const next = await post(
          `${sim.url}/chat/completions`,
          chatWithSchema({ type: 'string', minLength: 10_000 }),
        );
        expect(next.status).toBe(200);
        expect(sim.stats().byStatus).toEqual({ '200': 1, '400': 1 });
      } finally {
        await sim.close();
      }
    },
  );

  it('names the choice when the n choices together are too large', async () => {
    const sim = await startSimulator();
    try {
      const schema = { type: 'array', minItems: 1_000, items: { type: 'string', minLength: 100 } };
      const refused = await post(`${sim.url}/chat/completions`, {
        ...chatWithSchema(schema),
        n: 16,
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error?.message).toMatch(/choice \d+ of n = 16/);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator: large bodies', () => {
  it('refuses a body above maxBodyBytes with 413 in OpenAI’s shape', async () => {
    const sim = await startSimulator({ maxBodyBytes: 2_048 });
    try {
      const big = await post(`${sim.url}/chat/completions`, {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'word '.repeat(1_000) }],
      });
      expect(big.status).toBe(413);
      expect(big.body.error).toMatchObject({
        message: 'The request body is larger than 2048 bytes.',
        type: 'invalid_request_error',
      });
    } finally {
      await sim.close();
    }
  });

  it('answers another client while it counts the tokens of a large prompt', async () => {
    const options = resolveSimulatorOptions({});
    const simulator = createSimulatorServer(options);
    const { server } = simulator;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
    try {
      const content = 'alpha beta gamma, delta.\n'.repeat(120_000); // 3 MB
      const order: string[] = [];
      let small: Promise<unknown> | undefined;
      // The small request leaves once the simulator has read the whole large body: from then on
      // the simulator works on the large prompt only, unless it lets other requests in.
      server.prependListener('request', (req) => {
        if (small !== undefined) return;
        req.once('end', () => {
          small = post(url, {
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'hi' }],
          }).then((answer) => order.push(`small ${answer.status}`));
        });
      });
      const big = post(url, {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content }],
        max_tokens: 5,
      }).then((answer) => order.push(`big ${answer.status}`));
      await big;
      await small;
      expect(order).toEqual(['small 200', 'big 200']);
      const bigEntry = simulator.stats().log.find((e) => e.promptTokens > 1_000);
      expect(bigEntry?.promptTokens).toBe(
        countChatTokens([{ role: 'user', content }], 'gpt-4o-mini'),
      );
    } finally {
      await simulator.shutdown();
    }
  });
});

describe('simulator: API key check', () => {
  it.each(['Bearer', 'bearer', 'BEARER'])('accepts the %s scheme', async (scheme) => {
    const sim = await startSimulator({ apiKey: 'sk-right-key' });
    try {
      const ok = await fetch(`${sim.url}/models`, {
        headers: { authorization: `${scheme} sk-right-key` },
      });
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
    } finally {
      await sim.close();
    }
  });

  it.each([
    ['a prefix of the key', 'Bearer sk-right'],
    ['the key with more after it', 'Bearer sk-right-key-and-more'],
    ['another scheme', 'Basic sk-right-key'],
    ['the key without a scheme', 'sk-right-key'],
    ['an empty token', 'Bearer '],
  ])('refuses %s with 401', async (_, authorization) => {
    const sim = await startSimulator({ apiKey: 'sk-right-key' });
    try {
      const refused = await fetch(`${sim.url}/models`, { headers: { authorization } });
      expect(refused.status).toBe(401);
      await refused.body?.cancel();
    } finally {
      await sim.close();
    }
  });
});
