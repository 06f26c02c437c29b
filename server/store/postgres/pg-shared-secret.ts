import { randomBytes } from 'node:crypto';
import { migratePostgres, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE shared_secrets (
     name TEXT PRIMARY KEY,
     value BYTEA NOT NULL,
     created_at TIMESTAMPTZ NOT NULL DEFAULT now()
   )`,
];

/**
 * A secret every replica on this database shares (e.g. the requestState signing key), made by the
 * first replica that asks and read by the others: 32 random bytes, never rotated by Harbor (deleting
 * the row rotates it at the next start of every replica). INSERT … ON CONFLICT DO NOTHING makes two
 * replicas starting at once agree on one value.
 */
export async function sharedSecret(pool: PgPool, name: string): Promise<Buffer> {
  await migratePostgres(pool, 'shared-secrets', MIGRATIONS);
  await pool.query('INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32)]);
  const { rows } = await pool.query<{ value: Buffer }>('SELECT value FROM shared_secrets WHERE name = $1', [name]);
  return rows[0]!.value;
}
