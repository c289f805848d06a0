// The served OpenAPI document against outside tools: every operation has a unique operationId, every turn event type is
// documented on the SSE routes, redocly lint (recommended rules) passes, and the committed client types match it.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TURN_EVENT_SCHEMAS } from '../../src/engine/events.js';
import { JOB_STATE_EVENTS, PERSON_WEBHOOK_EVENTS } from '../../src/jobs/view.js';
import { clientTypes, DOCUMENT_ENV, TYPES_FILE } from '../support/api/document.js';
import { useTestServer } from '../support/fixture.js';
import { needs, REDOCLY, REDOCLY_ENV } from '../support/needs.js';

const ctx = useTestServer({ ...DOCUMENT_ENV });
const redoclyMissing = await needs('the redocly lint of the served document', 'redocly');
const root = join(import.meta.dirname, '../..');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

let document: any;
beforeAll(async () => {
  document = await (await ctx.t.request('/openapi.json', { key: null })).json();
});

/** A literal as @fastify/swagger writes it (it turns `const` into a one-value `enum` for Swagger UI). */
const literal = (schema: any): unknown => schema.const ?? schema.enum?.[0];

function operations(): Array<{ where: string; op: any }> {
  return Object.entries<any>(document.paths).flatMap(([path, item]) =>
    Object.entries<any>(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })),
  );
}

describe('the served OpenAPI document', () => {
  it('gives every operation a unique, readable operationId', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(40);
    expect(ops.filter(({ op }) => typeof op.operationId !== 'string').map((o) => o.where)).toEqual([]);
    const ids = ops.map(({ op }) => op.operationId as string);
    expect(ids.filter((id) => !/^[a-z][A-Za-z]+$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents the files wildcard as a named path parameter', () => {
    const paths = Object.keys(document.paths);
    expect(paths.filter((p) => p.includes('*'))).toEqual([]);
    const download = document.paths['/api/v1/sessions/{name}/files/{path}'].get;
    expect(download.parameters.map((p: any) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      'path:name:true',
      'path:path:true',
    ]);
  });

  it("documents every turn event type as an SSE frame on the chat and job streams, and the seed's on chat", () => {
    const types = TURN_EVENT_SCHEMAS.map((s) => s.properties.type.const);
    expect(types).toEqual([
      'session',
      'text',
      'tool_use',
      'tool_result',
      'approval',
      'question',
      'decision',
      'result',
      'error',
    ]);
    for (const [path, method, component, listed] of [
      ['/api/v1/sessions/{name}/chat/stream', 'post', 'ChatEventFrame', [...types, 'assistant', 'tool', 'done']],
      ['/api/v1/sessions/{name}/chat/stream', 'get', 'ChatEventFrame', [...types, 'assistant', 'tool', 'done']],
      ['/api/v1/sessions/{name}/jobs/{id}/events', 'get', 'TurnEventFrame', types],
    ] as const) {
      const schema = document.paths[path][method].responses['200'].content['text/event-stream'].schema;
      expect(schema).toEqual({ $ref: `#/components/schemas/${component}` });
      const frames = document.components.schemas[component].anyOf;
      expect(
        frames.map((f: any) => literal(f.properties.event)),
        `${method} ${path}`,
      ).toEqual(listed);
      const result = frames.find((f: any) => literal(f.properties.event) === 'result').properties.data;
      expect(result.required).toEqual(expect.arrayContaining(['turn_id', 'status', 'content', 'usage', 'tools_used']));
    }
  });

  it('documents the webhook of every job event, its body made of the job and, for a pause, its event', () => {
    expect(Object.keys(document.webhooks)).toEqual([...JOB_STATE_EVENTS, ...PERSON_WEBHOOK_EVENTS]);
    const body = (type: string) => document.webhooks[type].post.requestBody.content['application/json'].schema;
    expect(body('job.succeeded').properties.data.required).toEqual(expect.arrayContaining(['id', 'status', 'result']));
    expect(body('job.succeeded').properties.data.properties.webhooks).toBeUndefined();
    expect(literal(body('approval.requested').properties.data.properties.approval.properties.type)).toBe('approval');
    expect(literal(body('question.requested').properties.data.properties.question.properties.type)).toBe('question');
  });

  it.skipIf(redoclyMissing)(
    'passes redocly lint with the recommended rules (the kept warnings are listed in .redocly.lint-ignore.yaml)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cc-api-redocly-'));
      try {
        for (const file of ['redocly.yaml', '.redocly.lint-ignore.yaml'])
          copyFileSync(join(root, file), join(dir, file));
        writeFileSync(join(dir, 'openapi.json'), JSON.stringify(document));
        const env = { ...process.env, ...REDOCLY_ENV };
        const { stdout } = await promisify(execFile)(REDOCLY, ['lint', 'openapi.json', '--format=json'], {
          cwd: dir,
          env,
          // redocly exits with 1 when it finds problems: its report is on stdout all the same.
        }).catch((err: unknown) => ({
          stdout: err instanceof Error && 'stdout' in err && typeof err.stdout === 'string' ? err.stdout : '',
        }));
        const report = JSON.parse(stdout) as { problems: Array<{ ruleId: string; severity: string; message: string }> };
        expect(report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it('matches the committed client types (regenerate with npm run openapi:types)', async () => {
    expect(await clientTypes(document)).toBe(readFileSync(TYPES_FILE, 'utf8'));
  }, 60_000);
});
