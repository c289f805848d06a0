// Times every request into the latency histogram and serves the Prometheus text at GET /metrics.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../metrics/registry.js';
import { problemResponses } from '../schemas/common.js';

export interface MetricsPluginOptions {
  metrics: Metrics;
  /** true: /metrics needs no API key (METRICS_AUTH=none). */
  public: boolean;
}

export default fp(
  async (app: FastifyInstance, opts: MetricsPluginOptions) => {
    const { metrics } = opts;
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpDuration.observe(
        { method: request.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });
    app.get(
      '/metrics',
      {
        config: { public: opts.public },
        schema: {
          tags: ['Health'],
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Prometheus text format: HTTP latency by route and status, live Claude Code processes, turn queue depth and wait, turns, tool calls and denials, cost and tokens by model, job states, webhook attempts, process memory. Needs an API key unless METRICS_AUTH=none.',
          response: {
            200: {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...problemResponses(401),
          },
        },
      },
      async (_request, reply) => {
        reply.type(metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );
  },
  { name: 'metrics', fastify: '5.x' },
);
