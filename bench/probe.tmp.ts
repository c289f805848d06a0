import { spawn } from 'node:child_process';
import { ModelServer } from '../test/support/model-server.js';
import { CLI_PATH } from '../test/support/cli-env.js';
import { startTestServer } from '../test/support/server.js';

const model = await ModelServer.start();
model.script({ match: /.*/, steps: [{ text: ['Sure, ', 'here is ', 'the answer ', 'in four chunks.'] }] });
const t = await startTestServer(model.url);
let t0 = performance.now();
let r = await t.request('/api/v1/sessions', { method: 'POST', json: { name: 's1' } });
console.log('create', r.status, performance.now() - t0);
for (let i = 0; i < 5; i++) {
  t0 = performance.now();
  r = await t.request('/api/v1/sessions/s1/chat', { method: 'POST', json: { message: `hello ${i}` } });
  const j: any = await r.json();
  console.log('chat', r.status, (performance.now() - t0).toFixed(0), j.data?.content ?? JSON.stringify(j));
}
r = await t.request('/api/v1/sessions/s1');
const s: any = (await r.json()).data;
console.log(s.claude_session_id, s.working_dir);
for (const args of [['-p', 'cold hello', '--output-format', 'stream-json', '--verbose'], ['-p', 'cold hello', '--output-format', 'stream-json', '--verbose', '--include-partial-messages']]) {
  t0 = performance.now();
  const child = spawn(CLI_PATH, args, { env: t.cli.env, cwd: t.cli.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      const m = JSON.parse(line);
      console.log((performance.now() - t0).toFixed(0), m.type, m.subtype ?? m.event?.type ?? '', m.event?.delta?.type ?? '');
    }
  });
  child.stderr.on('data', (d) => console.log('ERR', String(d)));
  await new Promise((res) => child.on('exit', res));
  console.log('exit', (performance.now() - t0).toFixed(0));
}
await t.cleanup();
await model.close();
console.log(model.requests.map((q) => `${q.kind} ${q.path} ${q.headers['x-claude-code-request-class']}`).join('\n'));
