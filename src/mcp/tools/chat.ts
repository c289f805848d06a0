// The chat tool: one turn of a session, its progress as notifications, interrupted when the caller goes away.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isPersonEvent, type TurnEvent, type TurnResult } from '../../engine/events.js';
import type { Turn } from '../../engine/turn.js';
import { chatOnOwner } from '../remote.js';
import { data, guardedBy, optionShape, sessionName, withoutBlanks, type Extra, type McpCaller } from '../shared.js';

/** The chat tool's answer: the Python seed's fields (its JSON is the text content) beside the whole result. */
function answerOf(result: TurnResult): CallToolResult {
  // The Python seed's answer (tools by name) at the top, beside our whole result; its JSON is the text content,
  // as the seed's tool answered, so a client that parses the text reads the seed's fields.
  const seed = {
    content: result.content,
    cost: result.cost_usd,
    duration_ms: result.duration_ms,
    num_turns: result.num_turns,
    tools_used: result.tools_used.map((t) => t.name),
  };
  return data({ ...seed, result }, JSON.stringify(seed, null, 2));
}

export function registerChatTool(server: McpServer, { ctx, tenant, caller, remote }: McpCaller): void {
  const { sessions, config, log } = ctx;
  server.registerTool(
    'chat',
    {
      title: 'Chat with a session',
      description:
        "Sends a message to the session and answers with Claude Code's reply once the turn ends (tools run in the session's workspace). Sends progress notifications while it runs when the request asks for them.",
      inputSchema: {
        name: sessionName,
        message: z.string().min(1).max(config.maxMessageChars).regex(/\S/).describe('The prompt.'),
        ...optionShape,
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    guardedBy(
      log,
      tenant,
    )(async ({ name, ...input }, extra) => {
      if (remote) {
        // Several nodes: a session another node runs has its turn run there (its process holds the conversation).
        const owner = await remote.ownerOf((await sessions.get(tenant, name)).id);
        if (owner) {
          const notify = notifier(extra, config);
          try {
            const turn = chatOnOwner(owner, remote.headers, name, withoutBlanks(input), extra.signal, notify.event);
            return answerOf(await turn);
          } finally {
            notify.stop();
          }
        }
      }
      const { turn, recorded } = await sessions.chat(tenant, name, withoutBlanks(input), caller);
      const stop = followTurn(turn, extra, config);
      try {
        const result = await turn.done;
        await recorded;
        return answerOf(result);
      } catch (err) {
        await recorded;
        throw err;
      } finally {
        stop();
      }
    }),
  );
}

/**
 * What the caller hears while a chat turn runs, here or on another node: an approval or question the turn waits for
 * as a `notifications/message` (whether or not it asked for progress), and, when the request carries a progress
 * token, its text and tool calls as progress notifications with a heartbeat (`working`), which also keeps clients
 * that reset their time-out on progress waiting.
 */
function notifier(extra: Extra, config: Config): { event: (event: TurnEvent) => void; stop: () => void } {
  const token = extra._meta?.progressToken;
  const send = (notification: Parameters<Extra['sendNotification']>[0]) =>
    void extra.sendNotification(notification).catch(() => undefined);
  let progress = 0;
  const report = (message: string) => {
    if (token !== undefined)
      send({ method: 'notifications/progress', params: { progressToken: token, progress: ++progress, message } });
  };
  const timer = token === undefined ? undefined : setInterval(() => report('working'), config.engine.heartbeatMs);
  return {
    event: (event) => {
      if (isPersonEvent(event)) {
        send({ method: 'notifications/message', params: { level: 'warning', logger: 'claude-code-api', data: event } });
        report(`${event.type} ${event.id} waits for a person (until ${event.deadline})`);
      } else if (event.type === 'text') report(event.text);
      else if (event.type === 'tool_use') report(`tool_use ${event.name}`);
      else if (event.type === 'tool_result') report(`tool_result${event.is_error ? ' (error)' : ''}`);
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * While a chat turn runs here: interrupts it when the caller cancels or goes away (CHAT_DISCONNECT=interrupt) and
 * tells the caller of its events (`notifier`). Returns the function that stops following.
 */
function followTurn(turn: Turn, extra: Extra, config: Config): () => void {
  const stopped = new AbortController();
  const onAbort = () => {
    if (config.engine.chatDisconnect === 'interrupt' && !turn.finished) turn.interrupt('client');
  };
  extra.signal.addEventListener('abort', onAbort, { once: true });
  const notify = notifier(extra, config);
  void (async () => {
    for await (const { event } of turn.events(0, stopped.signal)) notify.event(event);
  })().catch(() => undefined);
  return () => {
    notify.stop();
    stopped.abort();
    extra.signal.removeEventListener('abort', onAbort);
  };
}
