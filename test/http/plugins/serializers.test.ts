// The list serializer writes exactly what fast-json-stringify writes, keeping the JSON of frozen items only.
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { listItemSerializers } from '../../../src/http/plugins/serializers.js';
import { Envelope, ListEnvelope } from '../../../src/http/schemas/common.js';

const Item = Type.Object({
  id: Type.String(),
  n: Type.Number(),
  note: Type.Union([Type.String(), Type.Null()]),
  nested: Type.Object({ a: Type.Integer() }),
  free: Type.Object({}, { additionalProperties: true }),
});
const route = (schema: unknown) => ({ schema, method: 'GET', url: '/x', httpStatus: '200' });
type Build = (s: unknown, o: unknown) => (r: ReturnType<typeof route>) => (v: unknown) => string;
const stock = (SerializerSelector() as unknown as Build)({}, {});
const ours = (listItemSerializers() as unknown as Build)({}, {});

const item = (i: number, note: string | null = `n\u00e9 "${i}" \\ \n\u2028`) => ({
  id: `id-${i}`,
  n: i / 3,
  note,
  nested: { a: i, extra: 'dropped' },
  free: { k: [i, 'v'] },
  unlisted: true,
});
const meta = {
  request_id: 'r',
  timestamp: '2026-12-01T00:00:00.000Z',
  version: 'v1',
  pagination: { page: 1, limit: 20, total: 3, pages: 1 },
};
const { pagination } = meta;
const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
};

describe('listItemSerializers', () => {
  const schema = ListEnvelope(Item);
  const expected = stock(route(schema));
  const actual = ours(route(schema));

  it('writes what fast-json-stringify writes, for frozen, unfrozen, mixed and empty lists', () => {
    const frozen = [0, 1, 2].map((i) => deepFreeze(item(i)));
    const bodies = [
      { data: frozen, meta, pagination },
      { data: [item(0), item(1, null)], meta, pagination },
      { data: [frozen[0], item(5), frozen[2]], meta, pagination },
      { data: [], meta, pagination },
    ];
    for (const body of bodies) expect(actual(body)).toBe(expected(body));
    expect(JSON.parse(actual(bodies[0]!)).data[0]).not.toHaveProperty('unlisted');
  });

  it('keeps the JSON of a frozen item (the same object is written once), never of an unfrozen one', () => {
    const frozen = deepFreeze(item(7));
    const first = actual({ data: [frozen], meta, pagination });
    expect(actual({ data: [frozen], meta: { ...meta, request_id: 'other' }, pagination })).toBe(
      first.replace('"request_id":"r"', '"request_id":"other"'),
    );
    const open = item(8);
    const before = actual({ data: [open], meta, pagination });
    open.n = 99;
    expect(actual({ data: [open], meta, pagination })).not.toBe(before);
    expect(actual({ data: [open], meta, pagination })).toBe(expected({ data: [open], meta, pagination }));
  });

  it('writes the members after pagination (ListEnvelope extras) as fast-json-stringify does', () => {
    const withExtra = ListEnvelope(Item, { session_id: Type.String(), count: Type.Integer() });
    const frozen = [0, 1].map((i) => deepFreeze(item(i)));
    for (const body of [
      { data: frozen, meta, pagination, session_id: 's-1', count: 2 },
      { data: [item(3)], meta, pagination, session_id: 'é "q"', count: 1, ignored: true },
    ])
      expect(ours(route(withExtra))(body)).toBe(stock(route(withExtra))(body));
  });

  it('leaves other schemas to the stock serializer', () => {
    const single = Envelope(Item);
    const body = { data: deepFreeze(item(1)), meta: { request_id: 'r', timestamp: meta.timestamp, version: 'v1' } };
    expect(ours(route(single))(body)).toBe(stock(route(single))(body));
  });
});
