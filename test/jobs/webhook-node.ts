// A webhook-sending node as a process of its own (for the SIGKILL test): a dispatcher on the shared store and webhook queue, running until killed.
import { pino } from 'pino';
import { WebhookDispatcher } from '../../src/jobs/dispatcher.js';
import { WebhookQueue } from '../../src/jobs/webhook-queue.js';
import { createStore } from '../../src/store/index.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`webhook-node: ${name} is not set`);
  return value;
};
const log = pino({ level: 'silent' });
const store = await createStore(env('DATABASE_URL'));
const queue = WebhookQueue.open(
  { redisUrl: env('REDIS_URL'), keyPrefix: env('REDIS_KEY_PREFIX'), nodeId: 'killed', lockMs: 2_000 },
  log,
);
new WebhookDispatcher(
  store,
  {
    secret: env('WEBHOOK_SECRET'),
    maxAttempts: 3,
    timeoutMs: 1_000,
    retryBaseMs: 20,
    retryMaxMs: 100,
    allowPrivate: true,
    userAgent: 'test',
  },
  log,
  undefined,
  {},
  queue,
).start();
process.stdout.write('ready\n');
