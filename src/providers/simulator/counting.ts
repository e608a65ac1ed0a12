/**
 * Token counts of large prompts that leave the event loop free for other clients.
 *
 * A long text is counted in pieces of about {@link PIECE_CHARS} characters, cut where OpenAI's
 * pre-tokenizer cuts as well, so that the pieces' counts add up to the text's count: right after
 * an ASCII letter that is followed by ASCII whitespace or ASCII punctuation other than an
 * apostrophe. (In both `o200k_base` and `cl100k_base` a letter run ends there: only a contraction
 * such as `'s` extends it, and no pattern spans a letter and the non-letter after it; the
 * pre-tokenizer has no look-behind, so the text after the cut is split as it would be in place.)
 * Between pieces the count waits for a turn of its own (the server's `Turns`).
 */

import type { Turns } from '../../internal/turns.js';
import { countChatTokens, countTextTokens } from '../../limits/tokens.js';

/**
 * What a `json_schema` response format adds to the billed prompt beyond the text of
 * {@link billedSchemaText}, as measured against OpenAI's API and published in openai-cookbook
 * issue 2140 (September 2025).
 */
export const SCHEMA_FRAME_TOKENS = 9;

/** Keywords left out of the billed schema text (measured not to be billed). */
const UNBILLED_KEYWORDS = new Set(['required', 'additionalProperties', '$schema']);
/** Keywords whose value maps names (of properties, definitions) to schemas. */
const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

/**
 * The schema as OpenAI was measured to bill it: its compact JSON without the keywords `required`,
 * `additionalProperties` and `$schema` at any depth (a property of one of these names is kept).
 * This is the simulator's own rule, independent of the library's estimate
 * (`schemaPromptTokens`), so that a test comparing the two can fail.
 */
export function billedSchemaText(schema: Record<string, unknown>): string {
  return JSON.stringify(billedSchema(schema, false));
}

function billedSchema(node: unknown, names: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => billedSchema(item, false));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!names && UNBILLED_KEYWORDS.has(key)) continue;
    out[key] = billedSchema(value, !names && NAME_MAPS.has(key));
  }
  return out;
}

/** Characters counted between two turns of the event loop (a few milliseconds of work). */
const PIECE_CHARS = 64 * 1024;

/** Where a piece may end: after this letter (the cut is at `index + 1`). */
const CUT = /[A-Za-z](?=[\t\n\r !-&(-/:-@[-`{-~])/g;

/** The first cut at or after `from`, or the end of the text when there is none. */
function cutFrom(text: string, from: number): number {
  if (from >= text.length) return text.length;
  CUT.lastIndex = Math.max(0, from - 1);
  const match = CUT.exec(text);
  return match === null ? text.length : match.index + 1;
}

/** Counts texts in pieces, yielding to the event loop after every `pieceChars` characters. */
export class PacedCounter {
  private sinceYield = 0;

  /**
   * @param turns the server's turns: each piece after the first waits for one of its own
   * @param pieceChars characters counted between two turns of the event loop
   */
  constructor(
    private readonly model: string,
    private readonly turns: Turns,
    private readonly pieceChars = PIECE_CHARS,
  ) {}

  /** `countTextTokens(text, model)`, counted piece by piece. */
  async text(text: string): Promise<number> {
    let total = 0;
    let start = 0;
    while (start < text.length) {
      if (this.sinceYield >= this.pieceChars) {
        this.sinceYield = 0;
        await this.turns.later();
      }
      const end = cutFrom(text, start + this.pieceChars);
      total += countTextTokens(text.slice(start, end), this.model);
      this.sinceYield += end - start;
      start = end;
    }
    return total;
  }

  /**
   * The prompt tokens a `json_schema` response format with `schema` adds: the tokens of
   * {@link billedSchemaText} plus {@link SCHEMA_FRAME_TOKENS}.
   */
  async schema(schema: Record<string, unknown>): Promise<number> {
    return (await this.text(billedSchemaText(schema))) + SCHEMA_FRAME_TOKENS;
  }

  /**
   * `countChatTokens(messages, model)`, counted piece by piece: the count of the same messages
   * with empty texts (what the chat format adds around them) plus the count of each text.
   */
  async chat(
    messages: readonly { role: string; content: string; name?: string }[],
  ): Promise<number> {
    const frames = messages.map((m) =>
      m.name === undefined ? { role: '', content: '' } : { role: '', content: '', name: '' },
    );
    let total = countChatTokens(frames, this.model);
    for (const message of messages) {
      total += await this.text(message.role);
      total += await this.text(message.content);
      if (message.name !== undefined) total += await this.text(message.name);
    }
    return total;
  }
}
