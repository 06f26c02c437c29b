import { z } from 'zod';
import type { SqliteDatabase } from '../store/sqlite-database.ts';
import { SqliteTokenStore } from './token-store.ts';

/**
 * Teammates moved from one Harbor to another (`harbor export --with-tokens`): names and SHA-256
 * hashes, never a usable token, so the file grants nothing by itself and every teammate keeps the
 * token they already have.
 */
export const HashedTokensSchema = z
  .object({
    format: z.literal('harbor-hashed-tokens/1'),
    teammates: z.array(
      z
        .object({
          name: z.string().min(1).max(64),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lowercase hex digits'),
          createdAt: z.number().int(),
          expiresAt: z.number().int().nullable(),
          scope: z.array(z.string()).nullable(),
        })
        .strict(),
    ),
  })
  .strict();
export type HashedTokens = z.infer<typeof HashedTokensSchema>;

interface Row {
  name: string;
  token_hash: Buffer;
  created_at: number;
  expires_at: number | null;
  scope: string | null;
}

/** Live teammates only: a revoked token stays revoked by not being moved at all. */
export function exportHashedTokens(db: SqliteDatabase, now = Date.now()): HashedTokens {
  new SqliteTokenStore(db); // applies the table's migrations, so an empty home exports an empty list
  const rows = db
    .prepare('SELECT name, token_hash, created_at, expires_at, scope FROM teammates WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at')
    .all(now) as Row[];
  return {
    format: 'harbor-hashed-tokens/1',
    teammates: rows.map((row) => ({
      name: row.name,
      sha256: row.token_hash.toString('hex'),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      scope: row.scope ? (JSON.parse(row.scope) as string[]) : null,
    })),
  };
}

/**
 * Adds the teammates this store does not know (by name or hash); one it knows keeps its own row,
 * so a token revoked here is never brought back by a restart. Returns how many were added.
 */
export function importHashedTokens(db: SqliteDatabase, tokens: HashedTokens): number {
  new SqliteTokenStore(db);
  const insert = db.prepare('INSERT OR IGNORE INTO teammates (name, token_hash, created_at, expires_at, scope) VALUES (?, ?, ?, ?, ?)');
  let added = 0;
  db.transaction(() => {
    for (const t of tokens.teammates) {
      added += insert.run(t.name, Buffer.from(t.sha256, 'hex'), t.createdAt, t.expiresAt, t.scope ? JSON.stringify(t.scope) : null).changes;
    }
  })();
  return added;
}
