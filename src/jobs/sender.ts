// One webhook HTTP attempt: POST to vetted addresses only (no second DNS lookup), with an overall time limit.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from './ssrf.js';

export interface SendRequest {
  url: URL;
  /** The addresses the host was checked against; the connection goes to one of these. */
  addresses: ResolvedAddress[];
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Bytes of a receiver's answer read (and thrown away) before the connection is closed. */
const RESPONSE_BYTES = 64 * 1024;

/** A lookup that answers with the vetted addresses whatever the name, so the connection cannot be re-pointed. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- Node's lookup contract lets a caller leave options out
    if (options?.all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as LookupFunction;
}

/** Sends the request; resolves with the response status, rejects with an Error saying what went wrong (time-out, connection …). */
export function sendWebhook(req: SendRequest): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (error: Error | undefined, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(status!);
    };
    const client = send(req.url, {
      method: 'POST',
      headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
      lookup: pinnedLookup(req.addresses),
      agent: false,
    });
    const timer = setTimeout(() => {
      const error = new Error(`timed out after ${req.timeoutMs / 1000} s`);
      finish(error);
      client.destroy(error);
    }, req.timeoutMs);
    const onAbort = () => {
      const error = new Error('aborted: the server is stopping');
      finish(error);
      client.destroy(error);
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err: NodeJS.ErrnoException) =>
      finish(new Error(err.code ? `${err.code}: ${err.message}` : err.message)),
    );
    client.on('response', (res: IncomingMessage) => {
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > RESPONSE_BYTES) {
          finish(undefined, res.statusCode ?? 0);
          res.destroy();
        }
      });
      res.on('end', () => finish(undefined, res.statusCode ?? 0));
      res.on('error', (err) => finish(new Error(err.message)));
    });
    client.end(req.body);
  });
}
