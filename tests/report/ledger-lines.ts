// Ledger lines for the report's tests: as lm-proxy writes them (SPEC §4, §9, §10; the field
// order of src/recording/usage-log.ts), as older versions wrote them (no cost, tags, user or
// audio counts), and at random, seeded, for the differential and property tests.

export interface LineFields {
  time?: unknown;
  method?: unknown;
  path?: unknown;
  status?: unknown;
  model?: unknown;
  stream?: unknown;
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  total_tokens?: unknown;
  cached_tokens?: unknown;
  reasoning_tokens?: unknown;
  cache_creation_tokens?: unknown;
  audio_prompt_tokens?: unknown;
  audio_completion_tokens?: unknown;
  complete?: unknown;
  end?: unknown;
  duration_ms?: unknown;
  ttfb_ms?: unknown;
  key_id?: unknown;
  cost?: unknown;
  cost_source?: unknown;
  tags?: unknown;
  user?: unknown;
  [other: string]: unknown;
}

/** A current ledger line with these fields changed (undefined removes one). */
export function ledgerLine(fields: LineFields = {}): string {
  const prompt = typeof fields.prompt_tokens === 'number' ? fields.prompt_tokens : 100;
  const completion = typeof fields.completion_tokens === 'number' ? fields.completion_tokens : 20;
  const base: LineFields = {
    time: '2026-03-01T14:05:09.123Z',
    method: 'POST',
    path: '/v1/chat/completions',
    status: 200,
    model: 'gpt-4o-2024-08-06',
    stream: true,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cache_creation_tokens: 0,
    audio_prompt_tokens: 0,
    audio_completion_tokens: 0,
    complete: true,
    end: 'done',
    duration_ms: 812,
    ttfb_ms: 95,
    key_id: '3f2a9c41d07e',
    cost: 0.00045,
    cost_source: 'prices',
    tags: {},
    user: null,
  };
  const line: Record<string, unknown> = {};
  for (const [name, value] of Object.entries({ ...base, ...fields })) if (value !== undefined) line[name] = value;
  return JSON.stringify(line);
}

/** A line of a ledger from before cost, tags, user and audio counts. */
export function oldLedgerLine(fields: LineFields = {}): string {
  return ledgerLine({ cost: undefined, cost_source: undefined, tags: undefined, user: undefined, audio_prompt_tokens: undefined, audio_completion_tokens: undefined, ...fields });
}

export const MODELS = ['gpt-4o-2024-08-06', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'gemini-2.0-flash', 'o3-mini', 'llama-3.1-70b', 'openrouter/openai/gpt-4o', 'mistral-large'];

/** A realistic line, drawn from `rand`: some fields absent or null, tags, users, costs and times. */
export function randomLedgerLine(rand: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const prompt = Math.floor(rand() * 20_000);
  const completion = Math.floor(rand() * 2_000);
  const tags: Record<string, string> = {};
  if (rand() < 0.6) tags.team = pick(['search', 'chat', 'batch', 'eval']);
  if (rand() < 0.3) tags.env = pick(['prod', 'staging']);
  if (rand() < 0.1) tags['feature.x-1'] = pick(['a:b/c@d+e', 'on']);
  const line: LineFields = {
    time: new Date(Date.UTC(2025, 11, 20) + Math.floor(rand() * 60 * 86_400_000)).toISOString(),
    path: pick(['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/messages']),
    status: pick([200, 200, 200, 400, 429, 500, 101]),
    model: rand() < 0.05 ? null : pick(MODELS),
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: Math.floor(prompt * rand() * 0.5),
    reasoning_tokens: rand() < 0.2 ? Math.floor(completion * rand()) : 0,
    cache_creation_tokens: rand() < 0.1 ? Math.floor(prompt * 0.1) : 0,
    complete: rand() < 0.95,
    end: 'done',
    key_id: rand() < 0.1 ? null : Math.floor(rand() * 2 ** 48).toString(16).padStart(12, '0'),
    cost: rand() < 0.2 ? null : Math.round(rand() * 1e8) / 1e10,
    cost_source: pick(['prices', 'upstream', null]),
    tags,
    user: rand() < 0.5 ? null : pick(['alice', 'bob@example.com', 'user-42', 'zoë', '数据']),
  };
  return rand() < 0.2 ? oldLedgerLine(line) : ledgerLine(line);
}
