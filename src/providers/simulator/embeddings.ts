/**
 * Deterministic embeddings: feature hashing of a text's words and character trigrams into a
 * fixed number of dimensions, normalised to unit length. Texts that share words or word parts
 * point in similar directions, so cosine similarity ranks them sensibly.
 */

import { hashString } from './hash.js';
import { isStopWord, tokenizeWords } from './words.js';

/** Weight of a whole word relative to one of its trigrams. */
const WORD_WEIGHT = 2;
const TRIGRAM_WEIGHT = 1;
const INDEX_SEED = 0x9e3779b9;
const SIGN_SEED = 0x85ebca6b;

function addFeature(vector: Float64Array, feature: string, weight: number): void {
  const index = hashString(feature, INDEX_SEED) % vector.length;
  const sign = (hashString(feature, SIGN_SEED) & 1) === 0 ? 1 : -1;
  vector[index] = (vector[index] ?? 0) + sign * weight;
}

/**
 * The embedding of `text`: a unit vector of `dimensions` numbers, the same for the same text.
 * An empty (or stop-word-only) text gets a fixed unit vector of its own.
 */
export function embedText(text: string, dimensions: number): number[] {
  const vector = new Float64Array(dimensions);
  const words = tokenizeWords(text);
  const topical = words.filter((w) => !isStopWord(w));
  for (const word of topical.length > 0 ? topical : words) {
    addFeature(vector, `w:${word}`, WORD_WEIGHT);
    const padded = ` ${word} `;
    for (let i = 0; i + 3 <= padded.length; i++) {
      addFeature(vector, `t:${padded.slice(i, i + 3)}`, TRIGRAM_WEIGHT);
    }
  }
  let norm = 0;
  for (const x of vector) norm += x * x;
  if (norm === 0) {
    vector[hashString(text, INDEX_SEED) % dimensions] = 1;
    norm = 1;
  }
  const scale = 1 / Math.sqrt(norm);
  return Array.from(vector, (x) => x * scale);
}

/** A vector as OpenAI's `encoding_format: 'base64'` sends it: little-endian float32 bytes. */
export function toBase64Floats(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => {
    bytes.writeFloatLE(x, i * 4);
  });
  return bytes.toString('base64');
}

/** Cosine similarity of two vectors of the same length. */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
