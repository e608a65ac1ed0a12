import { describe, expect, it } from 'vitest';
import {
  classificationSchemaFor,
  TEXT_CLASSIFICATION,
} from '../../src/task-types/builtin/text-classification.js';
import { parseAnswer } from '../../src/task-types/structured.js';
import { chatRequests, createWorld, expectRefused, failureOf, settle } from './helpers.js';

const DATA = {
  text: 'This is a web framework for Python',
  categories: ['web', 'data', 'ml', 'devops'],
};

const ANSWER = {
  category: 'web',
  confidence: 0.92,
  scores: { web: 0.92, data: 0.03, ml: 0.03, devops: 0.02 },
};

describe('TEXT_CLASSIFICATION', () => {
  it('asks with a per-request schema: category is an enum of the categories, one score each', async () => {
    const world = createWorld(() => ({ kind: 'ok', content: JSON.stringify(ANSWER) }));
    const id = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    expect(await settle(world, id)).toEqual({ ok: true, result: ANSWER });
    const format = chatRequests(world.client)[0]?.responseFormat;
    expect(format?.type).toBe('json_schema');
    if (format?.type !== 'json_schema') return;
    expect(format.jsonSchema.strict).toBe(true);
    expect(format.jsonSchema.schema).toMatchObject({
      properties: {
        category: { type: 'string', enum: ['web', 'data', 'ml', 'devops'] },
        confidence: { type: 'number', minimum: 0, maximum: 1 },
        scores: {
          type: 'object',
          required: ['web', 'data', 'ml', 'devops'],
          additionalProperties: false,
        },
      },
    });
    const prompt = chatRequests(world.client)[0]?.messages[1]?.content ?? '';
    expect(prompt).toContain('- devops');
    expect(prompt).toContain(DATA.text);
  });

  it('retries an answer outside the categories, and fails after the last attempt', async () => {
    const world = createWorld(() => ({
      kind: 'ok',
      content: JSON.stringify({ ...ANSWER, category: 'mobile' }),
    }));
    const id = await world.engine.submit({
      taskType: TEXT_CLASSIFICATION,
      data: DATA,
      config: { maxRetries: 1 },
    });
    const error = failureOf(await settle(world, id), 'INVALID_ANSWER');
    expect(error.message).toContain('category');
    expect(error.message).toContain('mobile');
    expect((await world.engine.getTask(id))?.attempts).toBe(2);
  });

  it('refuses scores that miss a category, name another one, or leave 0–1', () => {
    const schema = classificationSchemaFor(DATA.categories);
    const { devops: _devops, ...missing } = ANSWER.scores;
    for (const scores of [
      missing,
      { ...ANSWER.scores, mobile: 0.1 },
      { ...ANSWER.scores, ml: 2 },
    ]) {
      expect(() => parseAnswer(JSON.stringify({ ...ANSWER, scores }), schema)).toThrow(
        /does not match its schema: scores/,
      );
    }
    expect(() => parseAnswer(JSON.stringify({ ...ANSWER, confidence: -0.1 }), schema)).toThrow(
      /confidence/,
    );
  });

  it.each([
    [{ categories: ['a'] }, 'data.text'],
    [{ text: '', categories: ['a'] }, 'data.text'],
    [{ text: 'x', categories: [] }, 'data.categories'],
    [{ text: 'x', categories: ['a', 'b', 'a'] }, 'data.categories'],
    [{ text: 'x', categories: ['a', ''] }, 'data.categories.1'],
    [{ text: 'x', categories: 'a,b' }, 'data.categories'],
  ])('refuses bad data %j at submit, naming %s', (data, field) =>
    expectRefused(TEXT_CLASSIFICATION, data, field),
  );

  it('names the repeated category', async () => {
    const world = createWorld(() => ({ kind: 'ok' }));
    await expect(
      world.engine.submit({
        taskType: TEXT_CLASSIFICATION,
        data: { text: 'x', categories: ['a', 'b', 'b'] },
      }),
    ).rejects.toThrow('"b" appears more than once');
  });
});

describe('classificationSchemaFor', () => {
  it('derives one schema per list of categories and shares it', () => {
    const a = classificationSchemaFor(['web', 'data']);
    expect(classificationSchemaFor(['web', 'data'])).toBe(a);
    expect(classificationSchemaFor(['data', 'web'])).not.toBe(a);
    expect(classificationSchemaFor(['web', 'data', 'ml']).jsonSchema).not.toEqual(a.jsonSchema);
  });
});
