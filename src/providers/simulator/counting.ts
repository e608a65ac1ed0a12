/**
 * Token counts of large prompts that leave the event loop free for other clients.
 *
 * A long text is counted in pieces of about {@link PIECE_CHARS} characters, cut where OpenAI's
 * pre-tokenizer cuts as well, so that the pieces' counts add up to the text's count: right after
 * an ASCII letter that is followed by ASCII whitespace or ASCII punctuation other than an
 * apostrophe. (In both `o200k_base` and `cl100k_base` a letter run ends there: only a contraction
 * such as `'s` extends it, and no pattern spans a letter and the non-letter after it; the
 * pre-tokenizer has no look-behind, so the text after the cut is split as it would be in place.)
 * Between pieces the count waits for the next turn of the event loop.
 */

import { countChatTokens, countTextTokens } from '../../limits/tokens.js';

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

/** Waits for the next turn of the event loop, so that other requests are read and answered. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Counts texts in pieces, yielding to the event loop after every `pieceChars` characters. */
export class PacedCounter {
  private sinceYield = 0;

  /** @param pieceChars characters counted between two turns of the event loop */
  constructor(
    private readonly model: string,
    private readonly pieceChars = PIECE_CHARS,
  ) {}

  /** `countTextTokens(text, model)`, counted piece by piece. */
  async text(text: string): Promise<number> {
    let total = 0;
    let start = 0;
    while (start < text.length) {
      if (this.sinceYield >= this.pieceChars) {
        this.sinceYield = 0;
        await nextTurn();
      }
      const end = cutFrom(text, start + this.pieceChars);
      total += countTextTokens(text.slice(start, end), this.model);
      this.sinceYield += end - start;
      start = end;
    }
    return total;
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
