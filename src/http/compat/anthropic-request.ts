// An Anthropic Messages request mapped onto a session turn: every documented parameter honoured or refused by name.
import type { ConversationMessage } from '../../sessions/conversations.js';
import type { CountMessage } from '../../usage/token-count.js';
import {
  checkConversation,
  checkParams,
  contentText,
  invalid,
  isAbsent,
  NO_CLIENT_TOOLS,
  NO_SAMPLING,
  objectBody,
  ok,
  onlyDefault,
  optionalBoolean,
  refused,
  requiredString,
  stopList,
  tokenLimit,
  type Body,
  type CompatCall,
  type ParamCheck,
} from './params.js';
import { paramError } from './wire-errors.js';

/** Fields a text block may carry; cache_control is accepted because Claude Code places its own cache breakpoints. */
const TEXT_BLOCK_KEYS = ['type', 'text', 'cache_control', 'citations'] as const;

/** Every parameter of POST /v1/messages (docs/compat.md has the table). */
const CHECKS: Record<string, ParamCheck> = {
  model: ok,
  messages: ok,
  max_tokens: ok,
  system: ok,
  stream: ok,
  metadata: (v) => {
    if (isAbsent(v)) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return 'must be an object';
    const extra = Object.keys(v as Body).filter((k) => k !== 'user_id');
    return extra.length > 0 ? `unsupported field ${extra[0]}` : undefined;
  },
  temperature: onlyDefault(NO_SAMPLING + ' (1)', 1),
  top_p: refused(NO_SAMPLING),
  top_k: refused(NO_SAMPLING),
  stop_sequences: ok,
  tools: onlyDefault(NO_CLIENT_TOOLS, []),
  tool_choice: onlyDefault(NO_CLIENT_TOOLS, { type: 'auto' }, { type: 'none' }),
  thinking: onlyDefault('extended thinking is set by the operator (effort), not per request', { type: 'disabled' }),
  service_tier: onlyDefault('service tiers are not supported', 'auto', 'standard_only'),
  container: refused('containers are not supported: each session has its own workspace'),
  mcp_servers: refused('MCP servers are configured by the operator, not per request'),
  context_management: refused('Claude Code manages its context itself (auto-compaction)'),
};

/** count_tokens takes the request's input side only. */
const COUNT_CHECKS: Record<string, ParamCheck> = {
  model: ok,
  messages: ok,
  system: ok,
  tools: onlyDefault(NO_CLIENT_TOOLS, []),
  tool_choice: CHECKS.tool_choice!,
  thinking: CHECKS.thinking!,
};

function blockRefusal(type: string): string {
  if (type === 'image' || type === 'document')
    return `${type} blocks are not supported: upload the file to the session (files API) and refer to it by name`;
  if (type === 'tool_use' || type === 'tool_result') return `${type} blocks: ${NO_CLIENT_TOOLS}`;
  return `content block type ${JSON.stringify(type)} is not supported (only text)`;
}

function systemOf(value: unknown): string | undefined {
  if (isAbsent(value)) return undefined;
  const text = contentText(value, 'system', blockRefusal, TEXT_BLOCK_KEYS);
  return text === '' ? undefined : text;
}

function messagesOf(value: unknown): ConversationMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('messages', 'required, a non-empty array');
  const messages = value.map((raw: unknown, i): ConversationMessage => {
    const param = `messages[${i}]`;
    const m = raw as Body | null;
    if (m === null || typeof m !== 'object') throw invalid(param, 'must be an object');
    for (const key of Object.keys(m))
      if (key !== 'role' && key !== 'content') throw paramError(`${param}.${key}`, `${param}.${key}: unknown field.`);
    if (m.role !== 'user' && m.role !== 'assistant') throw invalid(`${param}.role`, 'must be user or assistant');
    return { role: m.role, text: contentText(m.content, `${param}.content`, blockRefusal, TEXT_BLOCK_KEYS) };
  });
  checkConversation(messages);
  return messages;
}

/** Validates and maps a Messages body; throws a 400 naming the first parameter it cannot honour. */
export function anthropicCall(raw: unknown): CompatCall {
  const body = objectBody(raw);
  checkParams(body, CHECKS);
  const model = requiredString(body, 'model');
  const maxTokens = tokenLimit(body.max_tokens, 'max_tokens');
  if (maxTokens === undefined) throw invalid('max_tokens', 'required, an integer of at least 1');
  const messages = messagesOf(body.messages);
  const system = systemOf(body.system);
  const userId = (body.metadata as Body | null | undefined)?.user_id;
  if (!isAbsent(userId) && (typeof userId !== 'string' || userId.length > 256))
    throw invalid('metadata.user_id', 'a string of at most 256 characters');
  return {
    model,
    messages,
    system,
    options: { ...(system !== undefined && { system_prompt: system }), max_output_tokens: maxTokens },
    endUser: typeof userId === 'string' && userId !== '' ? userId : undefined,
    stream: optionalBoolean(body, 'stream'),
    includeUsage: true,
    stop: stopList(body.stop_sequences, 'stop_sequences', 16, false),
  };
}

/** Validates a count_tokens body: what to count (the messages as /v1/messages takes them). */
export function countCall(raw: unknown): { model: string; system: string | undefined; messages: CountMessage[] } {
  const body = objectBody(raw);
  checkParams(body, COUNT_CHECKS);
  const model = requiredString(body, 'model');
  const messages = messagesOf(body.messages).map((m): CountMessage => ({ role: m.role, content: m.text }));
  return { model, system: systemOf(body.system), messages };
}
