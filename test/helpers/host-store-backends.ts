import { postgresMissing, startPostgres, type TestPostgres } from './postgres.ts';

/**
 * For integration tests of a whole host that touch its store: the config to add, once per backend —
 * nothing (the home's SQLite file) or `store.url` of a fresh database on a real PostgreSQL 15 started
 * for the suite. PostgreSQL suites are skipped, saying why, only where its binaries are absent.
 */
export interface HostStoreBackend {
  name: 'sqlite' | 'postgres';
  skip: string | false;
  start(): Promise<void>;
  stop(): void;
  /** Config fields for one host (a new database each call). */
  config(): { store?: { url: string } };
}

let databases = 0;

export function hostStoreBackends(): HostStoreBackend[] {
  let postgres: TestPostgres | null = null;
  return [
    { name: 'sqlite', skip: false, start: async () => {}, stop: () => {}, config: () => ({}) },
    {
      name: 'postgres',
      skip: postgresMissing() ?? false,
      async start() {
        postgres = await startPostgres();
      },
      stop() {
        postgres?.stop();
        postgres = null;
      },
      config() {
        if (!postgres) throw new Error('PostgreSQL not started');
        return { store: { url: postgres.createDatabase(`host_${process.pid}_${++databases}`) } };
      },
    },
  ];
}
