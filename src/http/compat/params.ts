// Checks shared by both compatible request formats: parameters honoured, those accepted only at the value that changes nothing, and the rest refused by name.
import type { SessionOptions } from '../../engine/options.js';
import type { ConversationMessage } from '../../sessions/conversations.js';
import { SESSION_NAME_PATTERN } from '../schemas/sessions.js';
import { paramError } from './wire-errors.js';

export type Body = Record<string, unknown>;

export const NO_CLIENT_TOOLS =
  "client-side tools are not supported: Claude Code runs its own tools in the session's workspace (their steps are in x_claude_code.steps)";
export const NO_SAMPLING = 'Claude Code does not let a request set sampling; only the default value is accepted';

/** A parameter's check: undefined = accepted; a string = why it is refused. */
export type ParamCheck = (value: unknown, body: Body) => string | undefined;

/** Everything a compatible request asks, in the sessions layer's terms, plus how to answer. */
export interface CompatCall {
  /** The `model` as sent (echoed in the answer). */
  model: string;
  messages: ConversationMessage[];
  /** System / developer messages, joined: the session's appended system prompt. */
  system: string | undefined;
  options: SessionOptions;
  endUser: string | undefined;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Stop sequences: the answer's text is cut at the first one. */
  stop: string[];
}

export const isAbsent = (v: unknown) => v === undefined || v === null;

/** Accepted only when absent or one of `neutral` (the value that asks for what happens anyway). */
export function onlyDefault(why: string, ...neutral: unknown[]): ParamCheck {
  return (v) => (isAbsent(v) || neutral.some((n) => JSON.stringify(n) === JSON.stringify(v)) ? undefined : why);
}

export const refused =
  (why: string): ParamCheck =>
  (v) =>
    isAbsent(v) ? undefined : why;

export const ok: ParamCheck = () => undefined;

/** Runs each parameter's check; an unknown parameter or a refused value is a 400 naming it. */
export function checkParams(body: Body, checks: Record<string, ParamCheck>): void {
  for (const [name, value] of Object.entries(body)) {
    const check = checks[name];
    if (!check) throw paramError(name, `Unrecognized request argument supplied: ${name}.`, 'unknown-parameter');
    const why = check(value, body);
    if (why !== undefined) throw paramError(name, `${name}: ${why}`);
  }
}

export function objectBody(body: unknown): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw paramError('body', 'The request body must be a JSON object.', 'invalid-parameter');
  return body as Body;
}

export function invalid(param: string, message: string) {
  return paramError(param, `${param}: ${message}`, 'invalid-parameter');
}

export function requiredString(body: Body, name: string, max = 256): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw invalid(name, `required, a string of 1 to ${max} characters`);
  return v;
}

export function optionalString(body: Body, name: string, max = 256): string | undefined {
  const v = body[name];
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'string' || v.length > max) throw invalid(name, `a string of at most ${max} characters`);
  return v === '' ? undefined : v;
}

export function optionalBoolean(body: Body, name: string): boolean {
  const v = body[name];
  if (isAbsent(v)) return false;
  if (typeof v !== 'boolean') throw invalid(name, 'must be a boolean');
  return v;
}

/** A positive integer token limit (max_tokens …), at most `cap`. */
export function tokenLimit(value: unknown, param: string, cap = 1_000_000): number | undefined {
  if (isAbsent(value)) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > cap)
    throw invalid(param, `must be an integer from 1 to ${cap}`);
  return value as number;
}

/** Stop sequences: a string or a list of non-empty strings (at most `max`); none when absent. */
export function stopList(value: unknown, param: string, max: number, single: boolean): string[] {
  if (isAbsent(value)) return [];
  const list = single && typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length > max || !list.every((s) => typeof s === 'string' && s.length > 0))
    throw invalid(param, `${single ? 'a string or ' : ''}a list of at most ${max} non-empty strings`);
  return list as string[];
}

/** The text of a message's content: a string, or text parts; any other part is refused by `refuseType`. */
export function contentText(
  content: unknown,
  param: string,
  refuseType: (type: string) => string,
  textKeys: readonly string[],
): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(param, 'must be a string or an array of content parts');
  const texts: string[] = [];
  content.forEach((part: unknown, i) => {
    const p = part as Body | null;
    const type = typeof p?.type === 'string' ? p.type : '';
    if (type !== 'text') throw paramError(`${param}[${i}].type`, refuseType(type));
    for (const key of Object.keys(p!)) {
      if (!textKeys.includes(key))
        throw paramError(`${param}[${i}].${key}`, `Content part field ${key} is not supported here.`);
    }
    if (typeof p!.text !== 'string') throw invalid(`${param}[${i}].text`, 'must be a string');
    texts.push(p!.text);
  });
  return texts.join('\n');
}

/** Refuses blank user messages and ensures the conversation ends with a user message. */
export function checkConversation(messages: ConversationMessage[], param = 'messages'): void {
  messages.forEach((m, i) => {
    if (m.role === 'user' && m.text.trim() === '')
      throw invalid(`${param}[${i}].content`, 'a user message may not be blank');
  });
  if (messages.at(-1)?.role !== 'user') throw invalid(param, 'the last message must have role user');
}

/** The session a request names with `X-Session-Name`, if any. */
export function sessionNameOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers['x-session-name'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  if (!new RegExp(SESSION_NAME_PATTERN).test(value))
    throw paramError(
      'X-Session-Name',
      'X-Session-Name: letters, digits, dot, dash, underscore; 1–64 characters, starting with a letter or digit.',
      'invalid-parameter',
    );
  return value;
}

/** `X-Include-Steps: true`: Claude Code's tool steps as readable text before the answer. */
export function includeStepsOf(headers: Record<string, string | string[] | undefined>): boolean {
  const raw = headers['x-include-steps'];
  return (Array.isArray(raw) ? raw[0] : raw)?.trim().toLowerCase() === 'true';
}
