// The yardstick for bench/load.ts: a bare Fastify route answering a list of the same size as GET /api/v1/sessions.
import Fastify from 'fastify';

const items = Array.from({ length: 20 }, (_, i) => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  name: `s${i}`,
  status: 'pending',
  workspace: `/tmp/ws/k_0123456789abcdef/s${i}`,
  working_dir: `/tmp/ws/k_0123456789abcdef/s${i}`,
  claude_session_id: null,
  options: {},
  totals: { cost_usd: 0, turns: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_creation_tokens: 0 },
  live: false,
  busy: false,
  created_at: new Date().toISOString(),
  updated_at: new Date().toISOString(),
  last_active_at: null,
}));

const app = Fastify({ logger: false });
app.get('/sessions', async () => ({
  data: items,
  meta: {
    request_id: 'x',
    timestamp: new Date().toISOString(),
    version: 'v1',
    pagination: { page: 1, limit: 20, total: 20, pages: 1 },
  },
}));
const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`bare listening on ${address}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
