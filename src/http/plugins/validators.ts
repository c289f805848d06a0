// Fastify's Ajv validators, split by request part: query, params and headers are coerced from strings; JSON bodies are not.
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type ValidatorFactory = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>;
type RouteValidatorBuilder = (route: { httpPart?: string; schema?: unknown; method?: string; url?: string }) => unknown;

/**
 * `schemaController.compilersFactory.buildValidator` for Fastify: the stock Ajv settings (coercion, defaults,
 * allErrors off) everywhere, except that a body is checked as sent: `{ "message": 5 }` fails `Type.String()`
 * instead of becoming "5", and a body property outside an `additionalProperties: false` object is a 422
 * instead of being dropped silently.
 */
export function partAwareValidators(): ValidatorFactory {
  const pool = AjvCompiler();
  const build = ((
    externalSchemas: Record<string, unknown>,
    ajvOptions?: { customOptions?: object; plugins?: unknown[] },
  ) => {
    const options = { ...ajvOptions, customOptions: { ...ajvOptions?.customOptions } };
    const lenient = pool(externalSchemas as never, options as never) as unknown as RouteValidatorBuilder;
    const strict = pool(
      externalSchemas as never,
      {
        ...options,
        customOptions: { ...options.customOptions, coerceTypes: false, removeAdditional: false },
      } as never,
    ) as unknown as RouteValidatorBuilder;
    return (route: Parameters<RouteValidatorBuilder>[0]) =>
      route.httpPart === 'body' ? strict(route) : lenient(route);
  }) as unknown as ValidatorFactory;
  return build;
}
