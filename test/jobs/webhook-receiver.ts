// A webhook receiver on 127.0.0.1 for tests: records every request, checks its Standard Webhooks signature, answers as scripted.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The payload as `Webhook.verify` returned it, or undefined when the signature did not verify. */
  verified: any;
  verifyError?: string;
  at: number;
}

/** What to do with the n-th request (0-based): answer with a status, or never answer. */
export type Behaviour = (n: number, req: ReceivedWebhook) => number | 'hang';

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  secret: string | undefined;
  behaviour: Behaviour = () => 204;
  private listeners = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(secret?: string): Promise<WebhookReceiver> {
    let self: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => self?.handle(req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    self.secret = secret;
    return self;
  }

  private handle(
    path: string,
    headers: IncomingHttpHeaders,
    body: string,
    res: import('node:http').ServerResponse,
  ): void {
    const entry: ReceivedWebhook = { path, headers, body, verified: undefined, at: Date.now() };
    if (this.secret) {
      try {
        entry.verified = new Webhook(this.secret).verify(body, headers as Record<string, string>);
      } catch (err) {
        entry.verifyError = (err as Error).message;
      }
    }
    const n = this.received.length;
    this.received.push(entry);
    const answer = this.behaviour(n, entry);
    for (const fn of [...this.listeners]) fn();
    if (answer === 'hang') return; // never answered: the sender's time-out ends it
    res.writeHead(answer, { 'content-type': 'text/plain' });
    res.end('ok');
  }

  /** Resolves once `count` requests (matching `filter`) have arrived. */
  waitFor(
    count: number,
    filter: (r: ReceivedWebhook) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<ReceivedWebhook[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.received.filter(filter);
        if (found.length >= count) {
          clearTimeout(timer);
          this.listeners.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(
          new Error(
            `webhook receiver: ${this.received.filter(filter).length} of ${count} requests within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Events (payload `type`) received so far, in arrival order. */
  types(): string[] {
    return this.received.map((r) => JSON.parse(r.body).type as string);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
