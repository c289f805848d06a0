// Ends the open event streams of a key when it is revoked (here, on another instance or by the CLI), with a last `error` event.
import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import type { KeyService } from '../../security/keys-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** A signal that aborts when the request's stored key is revoked (until the response closes); undefined for other keys. */
    revocationSignal?: (reply: FastifyReply) => AbortSignal | undefined;
  }
}

export default fp<{ keys: KeyService }>(
  async (app, { keys }) => {
    const open = new Map<string, Set<AbortController>>();
    const unsubscribe = keys.onRevoked((key) => {
      const streams = open.get(key.id);
      open.delete(key.id);
      for (const controller of streams ?? []) controller.abort();
    });
    app.addHook('onClose', async () => {
      unsubscribe();
    });

    // Called by the streams themselves, so plain requests pay nothing.
    app.decorate('revocationSignal', (reply: FastifyReply) => {
      const key = reply.request.apiKey;
      if (key?.source !== 'db') return undefined;
      const controller = new AbortController();
      let streams = open.get(key.id);
      if (!streams) open.set(key.id, (streams = new Set()));
      streams.add(controller);
      const held = streams;
      reply.raw.once('close', () => {
        held.delete(controller);
        if (held.size === 0 && open.get(key.id) === held) open.delete(key.id);
      });
      return controller.signal;
    });
  },
  { name: 'revoked-streams', fastify: '5.x', dependencies: ['auth'] },
);
