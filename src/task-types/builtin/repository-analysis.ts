/**
 * `REPOSITORY_ANALYSIS`: one repository's metadata and README → a structured analysis (summary,
 * category, tags, tech stack, use cases, audience, maturity), asked for with a JSON schema and
 * validated. The README is trimmed to a token budget (6,000 tokens by default).
 */

import { z } from 'zod';
import { parseOrThrow } from '../../internal/validate.js';
import { truncateToTokens } from '../../limits/tokens.js';
import type { ChatMessage } from '../../providers/types.js';
import {
  answerSchema,
  defineStructuredTaskType,
  resolveStructuredOutputs,
  type StructuredOutputOptions,
} from '../structured.js';
import type { TaskTypeDefinition } from '../types.js';

/** The name (and `TaskType` value) of this task type. */
export const REPOSITORY_ANALYSIS = 'REPOSITORY_ANALYSIS';

/** README tokens kept by default; the rest is cut off. */
export const DEFAULT_MAX_README_TOKENS = 6_000;

/**
 * The seed's `repo_info`: GitHub's repository object, of which `name` is required. Every other
 * field GitHub sends is accepted and kept (`null` where GitHub writes `null`).
 */
export const RepoInfoSchema = z.looseObject({
  name: z.string().min(1),
  full_name: z.string().nullish(),
  description: z.string().nullish(),
  language: z.string().nullish(),
  stargazers_count: z.number().int().nonnegative().nullish(),
  forks_count: z.number().int().nonnegative().nullish(),
  topics: z.array(z.string()).nullish(),
  homepage: z.string().nullish(),
  archived: z.boolean().nullish(),
  created_at: z.string().nullish(),
  pushed_at: z.string().nullish(),
  license: z
    .union([
      z.string(),
      z.looseObject({ spdx_id: z.string().nullish(), name: z.string().nullish() }),
    ])
    .nullish(),
});
export type RepoInfo = z.output<typeof RepoInfoSchema>;

/** `data` of a `REPOSITORY_ANALYSIS` task: `{ repo_info, readme_content? }`. */
export const RepositoryAnalysisInputSchema = z.object({
  repo_info: RepoInfoSchema,
  readme_content: z.string().nullish(),
});
export type RepositoryAnalysisInput = z.output<typeof RepositoryAnalysisInputSchema>;

/** How far along a project is. */
export const MaturitySchema = z.enum(['experimental', 'active', 'mature']);

/** The result of a `REPOSITORY_ANALYSIS` task. */
export const RepositoryAnalysisSchema = z.object({
  /** Two or three sentences: what it is and what it does. */
  summary: z.string().min(1),
  /** One broad category (`web framework`, `database`, `machine learning`…). */
  category: z.string().min(1),
  /** Short lowercase keywords. */
  tags: z.array(z.string()),
  /** Languages, frameworks and tools it is built with. */
  techStack: z.array(z.string()),
  /** What people use it for. */
  useCases: z.array(z.string()),
  /** Who it is for. */
  audience: z.string(),
  maturity: MaturitySchema,
});
export type RepositoryAnalysis = z.output<typeof RepositoryAnalysisSchema>;

const ANSWER = answerSchema('repository_analysis', RepositoryAnalysisSchema);

const SYSTEM_PROMPT =
  'You analyse software repositories for a catalogue. From the metadata and README you are ' +
  'given, answer in JSON: summary (two or three sentences on what the project is and does), ' +
  'category (one broad category), tags (three to eight short lowercase keywords), techStack ' +
  '(languages, frameworks and tools it is built with), useCases (what people use it for), ' +
  "audience (who it is for), and maturity ('experimental' for prototypes and early work, " +
  "'active' for projects in active development, 'mature' for stable, widely used ones). " +
  'Base every field on the material given; do not invent features.';

/** Options of {@link createRepositoryAnalysisTaskType}. */
export interface RepositoryAnalysisOptions extends StructuredOutputOptions {
  /**
   * README tokens kept (counted with the task model's tokenizer); a longer README is cut off
   * there and marked as trimmed.
   * @default 6000
   */
  maxReadmeTokens?: number | undefined;
  /** The task type's name. @default 'REPOSITORY_ANALYSIS' */
  name?: string | undefined;
}

const OptionsSchema = z.object({
  maxReadmeTokens: z.int().positive().default(DEFAULT_MAX_README_TOKENS),
  name: z.string().min(1).default(REPOSITORY_ANALYSIS),
});

/** The scalar `repo_info` fields worth showing the model, with their labels. */
const FACTS: readonly (readonly [keyof RepoInfo & string, string])[] = [
  ['full_name', 'Full name'],
  ['description', 'Description'],
  ['language', 'Primary language'],
  ['stargazers_count', 'Stars'],
  ['forks_count', 'Forks'],
  ['homepage', 'Homepage'],
  ['archived', 'Archived'],
  ['created_at', 'Created'],
  ['pushed_at', 'Last push'],
];

function licenseOf(info: RepoInfo): string | undefined {
  const license = info.license;
  if (typeof license === 'string') return license;
  return license?.spdx_id ?? license?.name ?? undefined;
}

/** The repository's metadata as prompt lines. */
function describeRepository(info: RepoInfo): string {
  const lines = [`Repository: ${info.name}`];
  for (const [key, label] of FACTS) {
    const value = info[key];
    if (value !== undefined && value !== null && value !== '') lines.push(`${label}: ${value}`);
  }
  const license = licenseOf(info);
  if (license !== undefined) lines.push(`License: ${license}`);
  if (info.topics && info.topics.length > 0) lines.push(`Topics: ${info.topics.join(', ')}`);
  return lines.join('\n');
}

/**
 * The prompt for one repository, the README cut to `maxReadmeTokens` tokens of `model`. The
 * estimate and the call use this one function, so the estimate is what the server counts.
 */
export function repositoryAnalysisMessages(
  data: RepositoryAnalysisInput,
  model: string,
  maxReadmeTokens: number = DEFAULT_MAX_README_TOKENS,
): ChatMessage[] {
  const readme = data.readme_content ?? '';
  const kept = truncateToTokens(readme, maxReadmeTokens, model);
  let readmeText: string;
  if (readme.trim() === '') readmeText = 'README: (none)';
  else if (kept.length < readme.length) {
    readmeText = `README (trimmed to its first ${maxReadmeTokens} tokens):\n${kept}`;
  } else readmeText = `README:\n${kept}`;
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: `${describeRepository(data.repo_info)}\n\n${readmeText}` },
  ];
}

/**
 * A `REPOSITORY_ANALYSIS` task type with its own options.
 *
 * @throws ValidationError when an option is invalid (it names the option and the value).
 * @example
 * const analysis = createRepositoryAnalysisTaskType({ maxReadmeTokens: 2_000 });
 * engine.registerTaskType(analysis);
 */
export function createRepositoryAnalysisTaskType(
  options: RepositoryAnalysisOptions = {},
): TaskTypeDefinition<RepositoryAnalysisInput, RepositoryAnalysis> {
  const { maxReadmeTokens, name } = parseOrThrow(
    OptionsSchema,
    { maxReadmeTokens: options.maxReadmeTokens, name: options.name },
    `${REPOSITORY_ANALYSIS} options`,
  );
  return defineStructuredTaskType({
    name,
    input: RepositoryAnalysisInputSchema,
    output: RepositoryAnalysisSchema,
    messages: (data, model) => repositoryAnalysisMessages(data, model, maxReadmeTokens),
    answer: () => ANSWER,
    structured: resolveStructuredOutputs(options, `${REPOSITORY_ANALYSIS} options`),
  });
}

/** The built-in `REPOSITORY_ANALYSIS` (READMEs trimmed to 6,000 tokens, `'auto'` structured outputs). */
export const repositoryAnalysisTaskType = createRepositoryAnalysisTaskType();
