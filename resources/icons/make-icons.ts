/**
 * Draws the tray and app icons as PNG files (committed; rerun after a design change):
 *   node resources/icons/make-icons.ts
 * Three tray states that differ in shape as well as colour, because macOS template images are
 * monochrome (the menu bar tints them) and colour alone is not enough for every eye:
 *   green = filled disc, amber = ring with a dot, red = ring with a slash.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

type Rgb = [number, number, number];
type Shape = (x: number, y: number, size: number) => number; // coverage 0…1

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** RGBA, 8 bits per channel, no interlace: the smallest PNG encoder that every decoder reads. */
export function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const rows = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4); // filter byte 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Renders a shape with 4×4 supersampling for smooth edges. */
function render(size: number, shape: Shape, colour: Rgb): Buffer {
  const pixels = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let covered = 0;
      for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) covered += shape(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4, size);
      const i = (y * size + x) * 4;
      pixels[i] = colour[0];
      pixels[i + 1] = colour[1];
      pixels[i + 2] = colour[2];
      pixels[i + 3] = Math.round((covered / 16) * 255);
    }
  }
  return pixels;
}

const disc: Shape = (x, y, size) => (Math.hypot(x - size / 2, y - size / 2) <= size * 0.4 ? 1 : 0);
function ring(x: number, y: number, size: number): boolean {
  const r = Math.hypot(x - size / 2, y - size / 2);
  return r <= size * 0.42 && r >= size * 0.27;
}
const ringDot: Shape = (x, y, size) => (ring(x, y, size) || Math.hypot(x - size / 2, y - size / 2) <= size * 0.13 ? 1 : 0);
const ringSlash: Shape = (x, y, size) => {
  const c = size / 2;
  const inside = Math.hypot(x - c, y - c) <= size * 0.42;
  const slash = Math.abs(x - c - (y - c)) / Math.SQRT2 <= size * 0.08;
  return ring(x, y, size) || (inside && slash) ? 1 : 0;
};

export const TRAY_STATES = {
  green: { shape: disc, colour: [26, 127, 55] as Rgb },
  amber: { shape: ringDot, colour: [191, 135, 0] as Rgb },
  red: { shape: ringSlash, colour: [207, 34, 46] as Rgb },
};

/** The app icon: a white harbour-light disc on a blue rounded square. */
const appIcon = (size: number): Buffer => {
  const pixels = Buffer.alloc(size * size * 4);
  const radius = size * 0.2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = Math.max(radius - x, 0, x - (size - 1 - radius));
      const dy = Math.max(radius - y, 0, y - (size - 1 - radius));
      const inSquare = Math.hypot(dx, dy) <= radius;
      const r = Math.hypot(x - size / 2, y - size / 2);
      const light = r <= size * 0.22 || (r >= size * 0.3 && r <= size * 0.34);
      const i = (y * size + x) * 4;
      const colour: Rgb = light ? [255, 255, 255] : [10, 88, 202];
      pixels.set([...colour, inSquare ? 255 : 0], i);
    }
  }
  return pixels;
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  for (const [state, { shape, colour }] of Object.entries(TRAY_STATES)) {
    for (const [suffix, size] of [['', 16], ['@2x', 32]] as const) {
      writeFileSync(join(dir, `tray-${state}Template${suffix}.png`), encodePng(size, size, render(size, shape, [0, 0, 0])));
      writeFileSync(join(dir, `tray-${state}${suffix}.png`), encodePng(size, size, render(size, shape, colour)));
    }
  }
  writeFileSync(join(dir, 'icon.png'), encodePng(512, 512, appIcon(512)));
  console.log(`icons written to ${dir}`);
}
