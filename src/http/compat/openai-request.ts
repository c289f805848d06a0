// An OpenAI Chat Completions request mapped onto a session turn: every documented parameter honoured or refused by name.
import type { EffortLevel } from '../../config/index.js';
import { EFFORT_LEVELS } from '../../config/settings.js';
import type { ConversationMessage } from '../../sessions/conversations.js';
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
  optionalString,
  refused,
  requiredString,
  stopList,
  tokenLimit,
  type Body,
  type CompatCall,
  type ParamCheck,
} from './params.js';
import { paramError } from './wire-errors.js';

/** Every parameter of POST /v1/chat/completions (docs/compat.md has the table). */
const CHECKS: Record<string, ParamCheck> = {
  model: ok,
  messages: ok,
  stream: ok,
  stream_options: (v) => {
    if (isAbsent(v)) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return 'must be an object';
    const extra = Object.keys(v as Body).filter((k) => k !== 'include_usage' && k !== 'include_obfuscation');
    if (extra.length > 0) return `unsupported field ${extra[0]}`;
    if ((v as Body).include_obfuscation === true) return 'include_obfuscation is not supported';
    return undefined;
  },
  max_tokens: ok,
  max_completion_tokens: ok,
  user: ok,
  safety_identifier: ok,
  reasoning_effort: ok,
  n: onlyDefault('only one choice per request (n=1): a session answers once per turn', 1),
  temperature: onlyDefault(NO_SAMPLING + ' (1)', 1),
  top_p: onlyDefault(NO_SAMPLING + ' (1)', 1),
  frequency_penalty: onlyDefault(NO_SAMPLING + ' (0)', 0),
  presence_penalty: onlyDefault(NO_SAMPLING + ' (0)', 0),
  logit_bias: onlyDefault('logit bias is not supported', {}),
  logprobs: onlyDefault('log probabilities are not available from Claude', false),
  top_logprobs: refused('log probabilities are not available from Claude'),
  seed: refused('Claude has no sampling seed'),
  stop: ok,
  tools: onlyDefault(NO_CLIENT_TOOLS, []),
  functions: onlyDefault(NO_CLIENT_TOOLS, []),
  tool_choice: onlyDefault(NO_CLIENT_TOOLS, 'none', 'auto'),
  function_call: onlyDefault(NO_CLIENT_TOOLS, 'none', 'auto'),
  parallel_tool_calls: (v) => (isAbsent(v) || typeof v === 'boolean' ? undefined : 'must be a boolean'),
  response_format: onlyDefault('structured output is not supported; answers are text', { type: 'text' }),
  modalities: onlyDefault('only text output is supported', ['text']),
  audio: refused('audio output is not supported'),
  prediction: refused('predicted outputs are not supported'),
  web_search_options: refused("web search is a Claude Code tool (WebSearch), chosen by the operator's tool list"),
  store: onlyDefault('stored completions are not supported', false),
  metadata: onlyDefault('stored completions (and their metadata) are not supported', {}),
  service_tier: onlyDefault('service tiers are not supported', 'auto', 'default'),
  verbosity: onlyDefault('verbosity is not supported', 'medium'),
  prompt_cache_key: (v) => (isAbsent(v) || typeof v === 'string' ? undefined : 'must be a string'),
};

const PART_REFUSALS: Record<string, string> = {
  image_url: 'images are not supported: upload the file to the session (files API) and refer to it by name',
  input_audio: 'audio input is not supported',
  file: 'file parts are not supported: upload the file to the session (files API) and refer to it by name',
};

function partRefusal(type: string): string {
  return PART_REFUSALS[type] ?? `content part type ${JSON.stringify(type)} is not supported (only text)`;
}

function effortOf(value: unknown): EffortLevel | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string' || !(EFFORT_LEVELS as readonly string[]).includes(value))
    throw invalid('reasoning_effort', `must be one of ${EFFORT_LEVELS.join(', ')} (Claude Code's effort levels)`);
  return value as EffortLevel;
}

function messagesOf(value: unknown): { messages: ConversationMessage[]; system: string | undefined } {
  if (!Array.isArray(value) || value.length === 0) throw invalid('messages', 'required, a non-empty array');
  const messages: ConversationMessage[] = [];
  const system: string[] = [];
  value.forEach((raw: unknown, i) => {
    const param = `messages[${i}]`;
    const m = raw as Body | null;
    if (m === null || typeof m !== 'object') throw invalid(param, 'must be an object');
    const role = m.role;
    if (role === 'tool' || role === 'function') throw paramError(`${param}.role`, `${param}.role: ${NO_CLIENT_TOOLS}.`);
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant')
      throw invalid(`${param}.role`, 'must be system, developer, user or assistant');
    for (const key of Object.keys(m)) {
      if (key === 'role' || key === 'content') continue;
      if ((key === 'tool_calls' || key === 'function_call') && !isAbsent(m[key]))
        throw paramError(`${param}.${key}`, `${param}.${key}: ${NO_CLIENT_TOOLS}.`);
      if (key === 'refusal' || key === 'audio' || key === 'name') {
        if (isAbsent(m[key])) continue;
        throw paramError(`${param}.${key}`, `${param}.${key}: message field ${key} is not supported.`);
      }
      if (key !== 'tool_calls' && key !== 'function_call')
        throw paramError(`${param}.${key}`, `${param}.${key}: unknown message field.`);
    }
    const text = contentText(m.content ?? '', `${param}.content`, partRefusal, ['type', 'text']);
    if (role === 'system' || role === 'developer') system.push(text);
    else messages.push({ role, text });
  });
  checkConversation(messages);
  return { messages, system: system.length > 0 ? system.join('\n\n') : undefined };
}

function outputTokens(body: Body): number | undefined {
  const a = tokenLimit(body.max_tokens, 'max_tokens');
  const b = tokenLimit(body.max_completion_tokens, 'max_completion_tokens');
  if (a !== undefined && b !== undefined && a !== b)
    throw invalid('max_completion_tokens', 'differs from max_tokens; send one of them');
  return b ?? a;
}

/** Validates and maps a Chat Completions body; throws a 400 naming the first parameter it cannot honour. */
export function openAiCall(raw: unknown): CompatCall {
  const body = objectBody(raw);
  checkParams(body, CHECKS);
  const model = requiredString(body, 'model');
  const { messages, system } = messagesOf(body.messages);
  const stream = optionalBoolean(body, 'stream');
  const streamOptions = (body.stream_options ?? {}) as Body;
  if (!stream && !isAbsent(body.stream_options)) throw invalid('stream_options', 'only with stream: true');
  const maxOutput = outputTokens(body);
  const effort = effortOf(body.reasoning_effort);
  return {
    model,
    messages,
    system,
    options: {
      ...(system !== undefined && { system_prompt: system }),
      ...(maxOutput !== undefined && { max_output_tokens: maxOutput }),
      ...(effort !== undefined && { effort }),
    },
    endUser: optionalString(body, 'user') ?? optionalString(body, 'safety_identifier'),
    stream,
    includeUsage: streamOptions.include_usage === true,
    stop: stopList(body.stop, 'stop', 4, true),
  };
}
