import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small tmpfs of its own: a disk that really fills up (ENOSPC, SQLITE_FULL), and frees again. */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk is full. */
  fill(): void;
  /** Deletes the filler: the space is back. */
  free(): void;
  unmount(): void;
}

/** A mounted tmpfs of `sizeBytes`, or the reason it could not be mounted (not root, no mount(8)). */
export function mountSmallDisk(sizeBytes: number): SmallDisk | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { skip: `cannot mount a tmpfs here (needs root and mount(8)): ${stderr || (error as Error).message}` };
  }
  const filler = join(dir, 'filler');
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      try {
        // Bounded: the disk is sizeBytes large, so at most sizeBytes / 64 KiB + 1 writes succeed.
        for (let i = 0; i <= sizeBytes / chunk.length + 1; i++) writeSync(fd, chunk);
        throw new Error('the small disk did not fill up');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // Pages a partial write left: fill them too, byte by byte would be slow; small chunks suffice.
        const small = Buffer.alloc(512, 0x78);
        for (let i = 0; i < 256; i++) {
          try {
            writeSync(fd, small);
          } catch {
            break;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      // Lazy: a process the test failed to stop must not leave the mount (and the test) hanging.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
