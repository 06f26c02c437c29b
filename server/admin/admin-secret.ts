import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_SECRET_FILE = 'admin.secret';

/** A fresh admin secret for this launch, written 0600 so only this user's CLI can read it. */
export function writeAdminSecret(home: string): string {
  const secret = randomBytes(32).toString('base64url');
  const file = join(home, ADMIN_SECRET_FILE);
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its old mode on write
  return secret;
}

export function readAdminSecret(home: string): string | null {
  try {
    return readFileSync(join(home, ADMIN_SECRET_FILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Constant-time comparison of a presented secret (hashing first makes the lengths equal). */
export function secretMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
