import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import { sendJson } from '../../server/http/http-errors.ts';
import { call, serveTable } from '../helpers/table-server.ts';
import { byMethod, exactPath, guarded, pathUnder, patternRoutes, route, routeTable, type Guard, type Handler } from '../../server/http/route-table.ts';

interface Place {
  path: string;
}

const place: Guard<unknown, Place> = (req) => ({ path: new URL(`http://x${req.url}`).pathname });
const steps: string[] = [];
/** Refuses with 403 when the request carries `x-refuse: <name>`; notes that it ran. */
const step = (name: string, async = false): Guard<Place & { trail: string[] }, Place & { trail: string[] }> => (req, res, input) => {
  steps.push(name);
  const refuse = req.headers['x-refuse'] === name;
  if (refuse) sendJson(res, 403, { refusedBy: name });
  const out = refuse ? null : { ...input, trail: [...input.trail, name] };
  return async ? Promise.resolve(out) : out;
};
const start: Guard<Place, Place & { trail: string[] }> = (_req, _res, input) => ({ ...input, trail: [] });
const answer = (what: string): Handler<Place & { trail?: string[] }> => (req, res, input) => sendJson(res, 200, { what, method: req.method, trail: input.trail ?? null });

let served: { server: Server; port: number };
before(async () => {
  const table = routeTable<Place>([
    route(exactPath('/exact'), byMethod({ GET: answer('exact GET'), POST: answer('exact POST'), DELETE: answer('exact DELETE') })),
    route(pathUnder('/under'), answer('under')),
    // Shadowed by the route above: first match wins.
    route(exactPath('/under/x'), answer('never')),
    route(exactPath('/guarded'), guarded([start, step('one'), step('two', true), step('three')], byMethod({ POST: answer('guarded') }))),
    route(exactPath('/throws'), () => {
      throw new Error('sync throw');
    }),
    route(exactPath('/rejects'), async () => {
      throw new Error('async rejection');
    }),
    // The admin API's form: rows of [method, pattern, handler], one route a pattern.
    ...patternRoutes<Place>([
      ['GET', /^\/rows$/, answer('rows GET')],
      ['GET', /^\/rows\/([^/]+)$/, (_req, res, input) => sendJson(res, 200, { params: input.params })],
      ['POST', /^\/rows$/, answer('rows POST')],
      ['DELETE', /^\/rows\/([^/]+)$/, (_req, res, input) => sendJson(res, 200, { deleted: input.params })],
    ]),
    route((input) => (/^\/items\/\d+$/.test(input.path) ? { ...input, id: Number(input.path.slice(7)) } : null), (_req, res, input) => sendJson(res, 200, { id: input.id })),
  ], (_req, res, input) => sendJson(res, 404, { unmatched: input.path }));
  served = await serveTable(guarded([place], table));
});
after(() => served.server.close());

test('a route answers its methods; another method is a 405 whose Allow lists them in order', async () => {
  for (const method of ['GET', 'POST', 'DELETE']) {
    const res = await call(served.port, method, '/exact');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).what, `exact ${method}`);
  }
  for (const method of ['PUT', 'PATCH', 'HEAD']) {
    const res = await call(served.port, method, '/exact');
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, POST, DELETE');
  }
});

test('first match wins; a path prefix covers itself and what is under it, not a longer name', async () => {
  assert.equal(JSON.parse((await call(served.port, 'PUT', '/under')).body).what, 'under');
  assert.equal(JSON.parse((await call(served.port, 'GET', '/under/x')).body).what, 'under');
  const sibling = await call(served.port, 'GET', '/underneath');
  assert.equal(sibling.status, 404);
  assert.deepEqual(JSON.parse(sibling.body), { unmatched: '/underneath' });
});

test('pattern rows: one route a pattern, its methods in row order, the groups passed on raw', async () => {
  assert.equal(JSON.parse((await call(served.port, 'POST', '/rows')).body).what, 'rows POST');
  assert.deepEqual(JSON.parse((await call(served.port, 'GET', '/rows/b%C3%B6b')).body), { params: ['b%C3%B6b'] });
  assert.deepEqual(JSON.parse((await call(served.port, 'DELETE', '/rows/x')).body), { deleted: ['x'] });
  const wrong = await call(served.port, 'PUT', '/rows');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'GET, POST');
  assert.equal((await call(served.port, 'PATCH', '/rows/x')).headers.allow, 'GET, DELETE');
  assert.equal((await call(served.port, 'GET', '/rows/x/y')).status, 404);
});

test('a matcher passes on what it read from the path', async () => {
  assert.deepEqual(JSON.parse((await call(served.port, 'GET', '/items/42')).body), { id: 42 });
  assert.equal((await call(served.port, 'GET', '/items/x')).status, 404);
});

test('guards run in order, each reading what the one before passed on, sync or async', async () => {
  steps.length = 0;
  const res = await call(served.port, 'POST', '/guarded');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body).trail, ['one', 'two', 'three']);
  assert.deepEqual(steps, ['one', 'two', 'three']);
});

test('a refusing guard answers, and no later guard or handler runs', async () => {
  for (const [refuser, ran] of [['one', ['one']], ['two', ['one', 'two']], ['three', ['one', 'two', 'three']]] as const) {
    steps.length = 0;
    const res = await call(served.port, 'POST', '/guarded', { 'x-refuse': refuser });
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { refusedBy: refuser });
    assert.deepEqual(steps, ran);
  }
});

test('the guards run before the method is looked at: a refused caller gets the refusal, not the 405', async () => {
  steps.length = 0;
  assert.equal((await call(served.port, 'GET', '/guarded', { 'x-refuse': 'one' })).status, 403);
  const wrongMethod = await call(served.port, 'GET', '/guarded');
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'POST');
  assert.deepEqual(steps, ['one', 'one', 'two', 'three']);
});

test('a handler that throws or rejects reaches the server as an error, and the table keeps answering', async () => {
  assert.deepEqual(JSON.parse((await call(served.port, 'GET', '/throws')).body), { error: 'sync throw' });
  assert.deepEqual(JSON.parse((await call(served.port, 'GET', '/rejects')).body), { error: 'async rejection' });
  assert.equal((await call(served.port, 'GET', '/exact')).status, 200);
});
