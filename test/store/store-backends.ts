import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext } from 'node:test';
import { harborPaths, type HarborPaths } from '../../server/harbor-home.ts';
import { openStore, type HarborStore } from '../../server/open-store.ts';
import { migratePostgres, openPostgres } from '../../server/store/postgres-database.ts';
import { migrate, openDatabase } from '../../server/store/sqlite-database.ts';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The store suite runs every case once per backend: SQLite in a temp home, and a real PostgreSQL 15
 * started for the file (a fresh database per case). PostgreSQL cases are skipped, saying why, only
 * where the binaries are absent; .ci/run installs them.
 */
export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** Why this backend cannot run here, or false. */
  skip: string | false;
  start(): Promise<void>;
  stop(): void;
  /** A fresh place to store things, removed when the test ends. */
  fresh(t: TestContext): Promise<StoreSite>;
}

export interface StoreSite {
  paths: HarborPaths;
  env: NodeJS.ProcessEnv;
  /** The URL of this case's database (PostgreSQL only). */
  url: string | null;
  /** Opens the store set as a host would, closed when the test ends (closing it earlier is fine). */
  open(replica?: string): Promise<HarborStore>;
}

let counter = 0;

function site(t: TestContext, url: string | null): StoreSite {
  const home = mkdtempSync(join(tmpdir(), 'harbor-store-'));
  const opened: HarborStore[] = [];
  const closed = new WeakSet<HarborStore>();
  t.after(async () => {
    for (const store of opened) if (!closed.has(store)) await store.close();
    rmSync(home, { recursive: true, force: true });
  });
  const paths = harborPaths(home);
  // No HARBOR_DATABASE_URL from the caller's environment may leak into the SQLite cases.
  const env: NodeJS.ProcessEnv = url ? { HARBOR_DATABASE_URL: url } : {};
  return {
    paths,
    env,
    url,
    async open(replica = 'replica-a') {
      const store = await openStore({ paths, env, replica, tokenFlushMs: 60_000 });
      const close = store.close;
      store.close = async () => {
        if (closed.has(store)) return;
        closed.add(store);
        await close();
      };
      opened.push(store);
      return store;
    },
  };
}

export function storeBackends(): StoreBackend[] {
  let postgres: TestPostgres | null = null;
  const missing = postgresMissing();
  return [
    { name: 'sqlite', skip: false, start: async () => {}, stop: () => {}, fresh: async (t) => site(t, null) },
    {
      name: 'postgres',
      skip: missing ?? false,
      async start() {
        postgres = await startPostgres();
      },
      stop() {
        postgres?.stop();
        postgres = null;
      },
      async fresh(t) {
        if (!postgres) throw new Error('PostgreSQL not started');
        return site(t, postgres.createDatabase(`case_${process.pid}_${++counter}`));
      },
    },
  ];
}

/** `describe(`${title} on ${backend}`)` once per backend, its PostgreSQL started before and stopped after. */
export function describeEachBackend(title: string, cases: (backend: StoreBackend) => void): void {
  for (const backend of storeBackends()) {
    describe(`${title} on ${backend.name}`, { skip: backend.skip }, () => {
      before(() => backend.start());
      after(() => backend.stop());
      cases(backend);
    });
  }
}

/**
 * For migration tests: brings `site`'s tables to an older schema (the component's steps given, run by
 * the backend's own runner) and inserts one row there, as a store of that version would have left it.
 */
export async function writeAtSchema(
  site: StoreSite,
  schema: { component: string; sqlite: readonly string[]; postgres: readonly string[] },
  insert: string,
  row: readonly unknown[],
): Promise<void> {
  if (site.url) {
    const pool = openPostgres(site.url);
    try {
      await migratePostgres(pool, schema.component, schema.postgres);
      await pool.query(`${insert} VALUES (${row.map((_, i) => `$${i + 1}`).join(', ')})`, [...row]);
    } finally {
      await pool.end();
    }
    return;
  }
  const db = openDatabase(site.paths.database);
  try {
    migrate(db, schema.component, schema.sqlite);
    db.prepare(`${insert} VALUES (${row.map(() => '?').join(', ')})`).run(...(row as never[]));
  } finally {
    db.close();
  }
}
