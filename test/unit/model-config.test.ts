import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { configSecrets } from '../../app/model-wiring.ts';
import { hasCode } from '../../core/errors.ts';

describe('model configuration', () => {
  it('has no model by default: the offline planner, a $5 daily budget, a one-day cache', () => {
    const config = loadConfig({});
    expect(config.models.large).toBeNull();
    expect(config.models.small).toBeNull();
    expect(config.models.dailyBudgetUsd).toBe(5);
    expect(config.models.cacheTtlSeconds).toBe(86_400);
    expect(config.models.prices['gpt-4o-mini']).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
  });

  it('parses both roles, providers and overrides', () => {
    const config = loadConfig({
      SPINE_MODEL_SMALL: 'openai:llama3.1:8b',
      SPINE_MODEL_LARGE: 'anthropic:claude-sonnet-4-5',
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      ANTHROPIC_API_KEY: 'sk-ant-x',
      SPINE_DAILY_BUDGET_USD: 'none',
      SPINE_MODEL_PRICES: '{"llama3.1:8b":{"input":0.01,"output":0.02}}',
    });
    expect(config.models.small).toEqual({
      provider: 'openai',
      model: 'llama3.1:8b',
      id: 'openai:llama3.1:8b',
    });
    expect(config.models.large?.id).toBe('anthropic:claude-sonnet-4-5');
    expect(config.models.dailyBudgetUsd).toBeNull();
    expect(config.models.prices['llama3.1:8b']).toEqual({ inputPerMTok: 0.01, outputPerMTok: 0.02 });
  });

  it('uses one model for both roles when only one is set', () => {
    const config = loadConfig({ SPINE_MODEL_LARGE: 'openai:gpt-4o', OPENAI_API_KEY: 'sk-x' });
    expect(config.models.small?.id).toBe('openai:gpt-4o');
  });

  it('lists every model problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
        SPINE_MODEL_LARGE: 'anthropic:claude-sonnet-4-5',
        SPINE_MODEL_SMALL: 'openai:gpt-4o-mini',
        SPINE_MODEL_PRICES: 'not json',
      });
    } catch (caught) {
      error = caught;
    }
    expect(hasCode(error, 'config.invalid')).toBe(true);
    const problems = (error as { details: { problems: string[] } }).details.problems;
    expect(problems).toEqual([expect.stringContaining('SPINE_MODEL_PRICES: must be JSON like')]);

    try {
      loadConfig({
        SPINE_MODEL_LARGE: 'anthropic:claude-sonnet-4-5',
        SPINE_MODEL_SMALL: 'openai:gpt-4o-mini',
      });
    } catch (caught) {
      error = caught;
    }
    expect((error as { details: { problems: string[] } }).details.problems).toEqual([
      expect.stringContaining('SPINE_MODEL_SMALL uses OpenAI: set OPENAI_API_KEY'),
      expect.stringContaining('SPINE_MODEL_LARGE uses Anthropic: set ANTHROPIC_API_KEY'),
    ]);
  });

  it('refuses a model that is not provider:model', () => {
    expect(() => loadConfig({ SPINE_MODEL_LARGE: 'gpt-4o' })).toThrow(/is not provider:model/);
  });

  it('finds the secrets the output guard must keep out of chat', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-openai-secret-value',
      ANTHROPIC_API_KEY: 'sk-ant-secret-value',
      DATABASE_URL: 'postgres://spine:db-password-123@127.0.0.1/spine',
    });
    expect(configSecrets(config).sort()).toEqual(
      ['db-password-123', 'sk-ant-secret-value', 'sk-openai-secret-value'].sort(),
    );
  });
});
