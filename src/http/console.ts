// The web console at /: its built files (dist/console, made by `npm run build`) and index.html for each console page.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { helmetHeaders } from './plugins/security-headers.js';
import { HttpProblem } from './http-problem.js';

/** Where the build puts the console, the same from src/http (tests) and dist/http (the built server). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** The console's own pages (client-side routes): each answers index.html, everything else keeps its 404. */
export const CONSOLE_PAGES = ['/', '/sessions', '/sessions/*', '/approvals', '/jobs', '/usage', '/audit', '/keys'];

/** The page loads only its own scripts and styles and talks only to this origin; nothing inline. */
export const CONSOLE_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    imgSrc: ["'self'", 'data:', 'blob:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
  },
};

export default async function consoleRoutes(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const dir = opts.dir ?? CONSOLE_DIR;
  const indexPath = `${dir}/index.html`;
  const built = existsSync(indexPath);
  const csp = helmetHeaders({ contentSecurityPolicy: CONSOLE_CSP })['content-security-policy']!;
  // Public (the page holds no secret: the person types the key), unlisted in the OpenAPI document, and not rate limited.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
    route.schema = { ...route.schema, hide: true };
  });
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('content-security-policy', csp);
    done();
  });
  const index = built ? readFileSync(indexPath) : undefined;
  for (const url of CONSOLE_PAGES) {
    app.get(url, async (_request, reply) => {
      if (!index)
        throw new HttpProblem(404, 'The web console is not built: run `npm run build`.', { slug: 'console-not-built' });
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
    });
  }
  if (built) {
    // Vite names every asset by its content hash, so they never change under their name.
    await app.register(fastifyStatic, {
      root: `${dir}/assets`,
      prefix: '/assets/',
      index: false,
      decorateReply: false,
      immutable: true,
      maxAge: '365d',
    });
  }
}
