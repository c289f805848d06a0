// The model-API credential proxy: one unix socket per session, bound into its wall; requests carrying the session's own token go upstream with the server's real credentials.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AuthKind } from '../cli-info.js';

/** Credential kinds the proxy can add to a request; the others (cloud providers, a login file) stay unconfined. */
export const PROXIED_AUTH: readonly AuthKind[] = ['api_key', 'auth_token', 'oauth_token'];

/** Where the model API is and how to sign in to it: read from the server's environment, never given to a wall. */
export interface Upstream {
  url: URL;
  /** Headers that carry the credentials, added to every forwarded request. */
  headers: Record<string, string>;
}

/** The upstream of the server's environment, or why its credentials cannot go through the proxy. */
export function upstreamOf(env: Record<string, string | undefined>, auth: AuthKind): Upstream | string {
  if (!PROXIED_AUTH.includes(auth))
    return auth === 'none'
      ? 'Claude Code has no credentials in the environment (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN) for the proxy to add'
      : `the model API credentials are of kind ${auth}, which the wall's proxy cannot carry (it carries ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN and CLAUDE_CODE_OAUTH_TOKEN)`;
  let url: URL;
  try {
    url = new URL(env.ANTHROPIC_BASE_URL?.trim() || 'https://api.anthropic.com');
  } catch {
    return 'ANTHROPIC_BASE_URL is not a URL';
  }
  const headers: Record<string, string> = {};
  for (const line of (env.ANTHROPIC_CUSTOM_HEADERS ?? '').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  if (auth === 'api_key') headers['x-api-key'] = env.ANTHROPIC_API_KEY!.trim();
  else if (auth === 'auth_token') headers.authorization = `Bearer ${env.ANTHROPIC_AUTH_TOKEN!.trim()}`;
  else {
    headers.authorization = `Bearer ${env.CLAUDE_CODE_OAUTH_TOKEN!.trim()}`;
    headers['anthropic-beta'] = 'oauth-2025-04-20';
  }
  return { url, headers };
}

/** Request headers never forwarded: the wall's own credentials and hop-by-hop ones. */
const DROPPED = new Set(['x-api-key', 'authorization', 'host', 'connection', 'keep-alive', 'proxy-authorization']);

interface Listener {
  server: Server;
  socket: string;
  token: Buffer;
}

export class ModelProxy {
  private readonly listeners = new Map<string, Promise<Listener>>();
  private readonly agent: HttpAgent;

  constructor(
    /** A folder only the server's user may enter; the sockets are made in it. */
    private readonly dir: string,
    private readonly upstream: Upstream,
    private readonly log: Logger,
  ) {
    this.agent =
      upstream.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /** The session's socket and token (made on first use; the same while it stays open). */
  async open(sessionId: string): Promise<{ socket: string; token: string }> {
    let pending = this.listeners.get(sessionId);
    if (!pending) {
      pending = this.listen(sessionId);
      this.listeners.set(sessionId, pending);
      pending.catch(() => this.listeners.delete(sessionId));
    }
    const l = await pending;
    return { socket: l.socket, token: l.token.toString('utf8') };
  }

  /** The socket and token opened for `from` (a warm spare) are `to`'s from now on (its session). */
  rename(from: string, to: string): void {
    const pending = this.listeners.get(from);
    if (!pending) return;
    this.listeners.delete(from);
    this.listeners.set(to, pending);
  }

  /** Closes the session's socket: its token stops working. */
  async close(sessionId: string): Promise<void> {
    const pending = this.listeners.get(sessionId);
    if (!pending) return;
    this.listeners.delete(sessionId);
    const l = await pending.catch(() => undefined);
    if (!l) return;
    l.server.closeAllConnections();
    await new Promise<void>((done) => l.server.close(() => done()));
    await rm(l.socket, { force: true });
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((id) => this.close(id)));
    this.agent.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async listen(sessionId: string): Promise<Listener> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const socket = join(this.dir, `${createHash('sha256').update(sessionId).digest('hex').slice(0, 16)}.sock`);
    await rm(socket, { force: true });
    const token = Buffer.from(`cca-wall-${randomBytes(24).toString('base64url')}`, 'utf8');
    const server = createServer((req, res) => this.forward(sessionId, token, req, res));
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(socket, () => done());
    });
    // The wall's processes run as the server's user: the socket needs no wider access.
    await chmod(socket, 0o600);
    return { server, socket, token };
  }

  private forward(sessionId: string, token: Buffer, req: IncomingMessage, res: ServerResponse): void {
    const given = Buffer.from(String(req.headers['x-api-key'] ?? ''), 'utf8');
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      this.log.warn({ session: sessionId, path: req.url }, 'model proxy: request without the session token refused');
      refuse(res, 401, 'authentication_error', "The request does not carry this session's proxy token.");
      return;
    }
    if (!req.url?.startsWith('/v1/')) {
      refuse(res, 404, 'not_found_error', 'Only /v1/ paths are forwarded.');
      return;
    }
    const base = this.upstream.url;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!DROPPED.has(name)) headers[name] = value;
    for (const [name, value] of Object.entries(this.upstream.headers)) {
      headers[name] =
        name === 'anthropic-beta' && typeof headers[name] === 'string' ? `${headers[name]},${value}` : value;
    }
    headers.host = base.host;
    const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(
      {
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port,
        path: `${base.pathname.replace(/\/$/, '')}${req.url}`,
        method: req.method,
        headers,
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        // An answer cut off upstream is cut off for the CLI too (it then fails or retries the request at once).
        answer.on('error', () => undefined);
        answer.on('close', () => {
          if (!answer.complete) res.destroy();
        });
      },
    );
    upstream.on('error', (err) => {
      this.log.warn({ session: sessionId, err: err.message }, 'model proxy: upstream request failed');
      if (!res.headersSent) refuse(res, 502, 'api_error', 'The model API could not be reached.');
      else res.destroy(err);
    });
    req.on('aborted', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

function refuse(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}
