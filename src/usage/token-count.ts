// Token counts: exact from the Messages API's count_tokens endpoint with Claude Code's own credentials, else a marked estimate.

export interface CountMessage {
  role: 'user' | 'assistant';
  content: string | Array<{ type: 'text'; text: string }>;
}

export interface CountRequest {
  /** Default: CLAUDE_MODEL, else DEFAULT_COUNT_MODEL. */
  model?: string;
  system?: string;
  messages: CountMessage[];
}

export interface TokenCount {
  input_tokens: number;
  estimated: boolean;
  model: string;
  source: 'count_tokens_api' | 'estimate';
  reason?: string;
}

/** Model aliases Claude Code accepts that the Messages API does not. */
const ALIASES: Record<string, string> = {
  sonnet: 'claude-sonnet-4-5',
  opus: 'claude-opus-4-1',
  haiku: 'claude-haiku-4-5',
};
export const DEFAULT_COUNT_MODEL = 'claude-sonnet-4-5';
const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** About four characters a token, plus a little per message: good enough to budget with, never exact. */
export function estimateTokens(req: Pick<CountRequest, 'system' | 'messages'>): number {
  const chars = (text: string) => text.length;
  let total = req.system ? Math.ceil(chars(req.system) / 4) + 4 : 0;
  for (const m of req.messages) {
    const text = typeof m.content === 'string' ? m.content : m.content.map((b) => b.text).join('\n');
    total += Math.ceil(chars(text) / 4) + 4;
  }
  return Math.max(1, total);
}

export interface TokenCounterOptions {
  /** The environment Claude Code gets: ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, and ANTHROPIC_BASE_URL. */
  env: Record<string, string | undefined>;
  defaultModel?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class TokenCounter {
  readonly #env: Record<string, string | undefined>;
  readonly #defaultModel: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: TokenCounterOptions) {
    this.#env = opts.env;
    this.#defaultModel = opts.defaultModel ?? DEFAULT_COUNT_MODEL;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#fetch = opts.fetch ?? fetch;
  }

  /** The model name sent to the API for a requested one (aliases resolved; the default when none). */
  modelFor(requested: string | undefined): string {
    const model = requested ?? this.#defaultModel;
    return ALIASES[model] ?? model;
  }

  /** Headers that authenticate against the Messages API, or undefined when Claude Code has no API credentials here. */
  #auth(): Record<string, string> | undefined {
    const apiKey = this.#env.ANTHROPIC_API_KEY?.trim();
    if (apiKey) return { 'x-api-key': apiKey };
    const token = this.#env.ANTHROPIC_AUTH_TOKEN?.trim();
    if (token) return { authorization: `Bearer ${token}` };
    return undefined;
  }

  async count(req: CountRequest): Promise<TokenCount> {
    const model = this.modelFor(req.model);
    const estimate = (reason: string): TokenCount => ({
      input_tokens: estimateTokens(req),
      estimated: true,
      model,
      source: 'estimate',
      reason,
    });
    const auth = this.#auth();
    if (!auth)
      return estimate(
        "No ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in Claude Code's environment: the Messages API cannot be asked.",
      );
    const base = (this.#env.ANTHROPIC_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, '');
    const body = { model, messages: req.messages, ...(req.system !== undefined && { system: req.system }) };
    try {
      const res = await this.#fetch(`${base}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const answer = (await res.json().catch(() => undefined)) as
        { input_tokens?: unknown; error?: { message?: unknown } } | undefined;
      if (
        res.ok &&
        typeof answer?.input_tokens === 'number' &&
        Number.isInteger(answer.input_tokens) &&
        answer.input_tokens >= 0
      ) {
        return { input_tokens: answer.input_tokens, estimated: false, model, source: 'count_tokens_api' };
      }
      const message = typeof answer?.error?.message === 'string' ? `: ${answer.error.message.slice(0, 200)}` : '';
      return estimate(`The count_tokens endpoint answered ${res.status}${message}.`);
    } catch (err) {
      const why =
        err instanceof Error && err.name === 'TimeoutError' ? 'did not answer in time' : 'could not be reached';
      return estimate(`The count_tokens endpoint ${why}.`);
    }
  }
}
