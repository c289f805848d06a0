// The prepared-statement cache under Kysely's SQLite dialect: reuse by SQL text, no sharing of busy statements, a bound.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/store/statement-cache.js';

function database() {
  const db = new Database(':memory:');
  db.exec('create table t (n integer)');
  db.exec('insert into t values (1), (2), (3)');
  return db;
}

describe('withStatementCache', () => {
  it('hands back the same statement for the same SQL, and it still answers', () => {
    const cached = withStatementCache(database());
    const a = cached.prepare('select n from t order by n');
    const b = cached.prepare('select n from t order by n');
    expect(b).toBe(a);
    expect(b.all([])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(cached.prepare('select n from t where n > ?').all([1])).toEqual([{ n: 2 }, { n: 3 }]);
    cached.close();
  });

  it('gives a caller its own statement while the cached one is being iterated', () => {
    const cached = withStatementCache(database());
    const sql = 'select n from t order by n';
    const iterator = cached.prepare(sql).iterate([]);
    expect(iterator.next().value).toEqual({ n: 1 });
    const other = cached.prepare(sql);
    expect(other.all([])).toHaveLength(3);
    expect([...iterator]).toEqual([{ n: 2 }, { n: 3 }]);
    cached.close();
  });

  it('keeps at most `size` statements, dropping the least recently used', () => {
    const cached = withStatementCache(database(), 2);
    const first = cached.prepare('select 1');
    const second = cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(first); // now the most recent
    cached.prepare('select 3'); // evicts "select 2"
    expect(cached.prepare('select 1')).toBe(first);
    expect(cached.prepare('select 2')).not.toBe(second);
    cached.close();
  });

  it('builds the rows better-sqlite3 builds: names in order, types kept, a later duplicate name winning, iterators too', () => {
    const db = database();
    db.exec('create table r (a text, b real, c blob, d integer)');
    db.prepare('insert into r values (?, ?, ?, ?)').run(['x "y"', 1.5, Buffer.from([1, 2]), null]);
    const cached = withStatementCache(db);
    const sqls = [
      'select * from r',
      'select a, b as a, d from r',
      'select count(*) as "weird name" from r',
      'select n from t where n > 5',
    ];
    for (const sql of sqls) expect(cached.prepare(sql).all([]), sql).toEqual(db.prepare(sql).all());
    // A column named __proto__ is an own field (better-sqlite3's own objects drop it), never the row's prototype.
    const [row] = cached.prepare('select count(*) as "weird name", 1 as "__proto__" from r').all([]) as Array<
      Record<string, unknown>
    >;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row!)).toEqual(['weird name', '__proto__']);
    expect(Object.keys(cached.prepare('select * from r').all([])[0] as object)).toEqual(['a', 'b', 'c', 'd']);
    expect([...cached.prepare('select n from t order by n').iterate([])]).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    cached.close();
  });

  it('close closes the database', () => {
    const db = database();
    withStatementCache(db).close();
    expect(db.open).toBe(false);
  });
});
