// One log line per finished request (method, url without secrets, status, duration, request id, tenant) in place of Fastify's own two.
import fp from 'fastify-plugin';

const SECRET_PARAM = /key|token|secret|password|passwd|auth|sig|signature|credential|session_id/i;

/** The request URL with the values of secret-looking query parameters replaced by `[REDACTED]`. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      return eq >= 0 && SECRET_PARAM.test(name) ? `${rawName}=[REDACTED]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

export default fp(
  async (app) => {
    app.addHook('onResponse', (request, reply, done) => {
      const status = reply.statusCode;
      const line = {
        method: request.method,
        url: loggableUrl(request.url),
        status,
        duration_ms: Math.round(reply.elapsedTime * 10) / 10,
        tenant: request.tenant || undefined,
      };
      if (status >= 500) request.log.warn(line, 'request completed');
      else request.log.info(line, 'request completed');
      done();
    });
  },
  { name: 'request-log', fastify: '5.x' },
);
