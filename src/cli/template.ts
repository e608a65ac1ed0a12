/**
 * `--prompt` templates: text with `{{field.path}}` placeholders filled from each input record.
 *
 * - `{{name}}`, `{{user.name}}`, `{{tags.0}}`: the value at that dotted path of the record (own
 *   keys only; a segment of digits indexes an array). Spaces inside the braces are ignored.
 * - `{{.}}`: the whole record.
 * - A string is put in as it is; any other value (a number, `true`, `null`, an object, an array)
 *   as compact JSON.
 * - `\{{` is a literal `{{`.
 * - A template without any placeholder gets the record appended as JSON after a blank line (as
 *   `llm` adds its input to the prompt): every record would otherwise get the same prompt.
 *
 * A record that lacks a field some placeholder names is refused before anything starts.
 */

import { describeValue } from '../config/index.js';
import { usage } from './flags.js';
import { fieldAt } from './keys.js';

/** One piece of a template: literal text, or the path of a placeholder (`[]` for `{{.}}`). */
type Part = { text: string } | { path: readonly string[]; source: string };

/** A value as a prompt shows it: a string as it is, anything else as compact JSON. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A parsed `--prompt` template. */
export class PromptTemplate {
  private constructor(
    /** The template as given: part of the resume keys' identity. */
    readonly text: string,
    /** The flag it came from, to name it in messages (`--prompt`, `--prompt-file p.txt`). */
    readonly flag: string,
    private readonly parts: readonly Part[],
  ) {}

  /**
   * Parses `text`; `flag` names it in errors (`--prompt`, `--prompt-file prompt.txt`).
   * @throws CliUsageError an empty template, a `{{` without its `}}`, an empty or malformed path
   */
  static parse(text: string, flag: string): PromptTemplate {
    if (text.trim() === '') throw usage(`${flag}: the prompt is empty`);
    const parts: Part[] = [];
    let literal = '';
    let at = 0;
    while (at < text.length) {
      const open = text.indexOf('{{', at);
      if (open === -1) {
        literal += text.slice(at);
        break;
      }
      if (open > 0 && text[open - 1] === '\\') {
        literal += `${text.slice(at, open - 1)}{{`;
        at = open + 2;
        continue;
      }
      literal += text.slice(at, open);
      const close = text.indexOf('}}', open + 2);
      if (close === -1) {
        throw usage(
          `${flag}: a placeholder is not closed: ${describeValue(text.slice(open, open + 40))} has no }} (write \\{{ for a literal {{)`,
        );
      }
      const source = text.slice(open, close + 2);
      if (literal !== '') parts.push({ text: literal });
      literal = '';
      parts.push({ path: pathOf(text.slice(open + 2, close).trim(), source, flag), source });
      at = close + 2;
    }
    if (literal !== '') parts.push({ text: literal });
    return new PromptTemplate(text, flag, parts);
  }

  /** Whether the template names any placeholder (without one, the record is appended). */
  get hasPlaceholders(): boolean {
    return this.parts.some((part) => 'path' in part);
  }

  /**
   * Why `record` cannot fill the template, in a few words (`undefined` when it can): the first
   * placeholder whose field the record lacks.
   */
  problem(record: unknown): string | undefined {
    for (const part of this.parts) {
      if (!('path' in part) || part.path.length === 0) continue;
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        return `the record is not a JSON object, so it has no field for ${part.source} (received ${describeValue(record)})`;
      }
      if (fieldAt(record, part.path) === undefined) {
        return `the record has no field "${part.path.join('.')}" (placeholder ${part.source})`;
      }
    }
    return undefined;
  }

  /** The prompt for `record` (which {@link problem} accepted). */
  render(record: unknown): string {
    if (!this.hasPlaceholders) return `${this.text}\n\n${JSON.stringify(record)}`;
    return this.parts
      .map((part) => ('path' in part ? shown(fieldAt(record, part.path)) : part.text))
      .join('');
  }
}

/** The path inside `{{ }}`: `.` for the whole record, else dotted non-empty names. */
function pathOf(inner: string, source: string, flag: string): string[] {
  if (inner === '.') return [];
  const path = inner.split('.');
  if (inner === '' || path.some((key) => key.trim() === '' || /[\s{}]/.test(key))) {
    throw usage(
      `${flag}: ${describeValue(source)} is not a placeholder: expected {{field}}, a dotted path such as {{user.name}}, or {{.}} for the whole record`,
    );
  }
  return path;
}
