// Response serializers: fast-json-stringify as usual, and for list envelopes each frozen item's JSON is kept, so a page of unchanged items is joined, not written out again.
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type SerializerFactory = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']
>;
type Serialize = (data: unknown) => string;
type RouteSerializerBuilder = (route: {
  schema: unknown;
  method: string;
  url: string;
  httpStatus: string;
}) => Serialize;

interface ListEnvelopeSchema {
  type: 'object';
  properties: { data: { type: 'array'; items: object }; meta: object; pagination: object } & Record<string, object>;
  required?: string[];
}

/** `{ data: [...], meta, pagination, …extra }`: the ListEnvelope of schemas/common.ts. */
function isListEnvelope(schema: unknown): schema is ListEnvelopeSchema {
  const s = schema as { type?: unknown; properties?: Record<string, { type?: unknown; items?: unknown }> } | null;
  if (!s || s.type !== 'object' || !s.properties) return false;
  const keys = Object.keys(s.properties);
  return (
    keys.length >= 3 &&
    keys[0] === 'data' &&
    keys[1] === 'meta' &&
    keys[2] === 'pagination' &&
    s.properties.data?.type === 'array' &&
    typeof s.properties.data.items === 'object'
  );
}

/**
 * `schemaController.compilersFactory.buildSerializer` for Fastify: the stock fast-json-stringify serializers, except
 * that a list envelope is written item by item and the JSON of a frozen item is kept for as long as the item lives.
 * A frozen item must be frozen all the way down, as the views of rows from the store's read cache are (views.ts):
 * the same object while the row is unchanged.
 * The output is the stock serializer's, byte for byte.
 */
export function listItemSerializers(): SerializerFactory {
  const stock = SerializerSelector();
  return ((externalSchemas: unknown, serializerOpts: unknown) => {
    const compile = (stock as (s: unknown, o: unknown) => RouteSerializerBuilder)(externalSchemas, serializerOpts);
    return (route: Parameters<RouteSerializerBuilder>[0]) => {
      const whole = compile(route);
      if (!isListEnvelope(route.schema)) return whole;
      const item = compile({ ...route, schema: route.schema.properties.data.items });
      const meta = compile({ ...route, schema: route.schema.properties.meta });
      const pagination = compile({ ...route, schema: route.schema.properties.pagination });
      const { data: _data, meta: _meta, pagination: _pagination, ...extras } = route.schema.properties;
      const extraNames = Object.keys(extras);
      const extra =
        extraNames.length === 0
          ? undefined
          : compile({
              ...route,
              schema: {
                type: 'object',
                properties: extras,
                required: route.schema.required?.filter((k) => extraNames.includes(k)),
              },
            });
      const kept = new WeakMap<object, string>();
      const itemJson = (value: unknown): string => {
        if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return item(value);
        let json = kept.get(value);
        if (json === undefined) {
          json = item(value);
          kept.set(value, json);
        }
        return json;
      };
      return (body: unknown) => {
        const data = (body as { data?: unknown } | null)?.data;
        if (!Array.isArray(data) || !data.some((d) => Object.isFrozen(d))) return whole(body);
        const rest = body as { meta: unknown; pagination: unknown };
        const more = extra ? extra(body).slice(1, -1) : '';
        return `{"data":[${data.map(itemJson).join(',')}],"meta":${meta(rest.meta)},"pagination":${pagination(rest.pagination)}${more ? `,${more}` : ''}}`;
      };
    };
  }) as unknown as SerializerFactory;
}
