/**
 * Where the popover opens: under a tray icon at the top of the screen (macOS menu bar, most Linux
 * panels), above one at the bottom (the Windows taskbar), beside one on a side taskbar; always inside
 * the display's work area. Linux trays often report empty bounds: then the top-right corner.
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const GAP = 4;

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), Math.max(min, max));
}

export function popoverPosition(tray: Rect, size: { width: number; height: number }, workArea: Rect): { x: number; y: number } {
  const right = workArea.x + workArea.width - size.width - GAP;
  const bottom = workArea.y + workArea.height - size.height - GAP;
  if (tray.width === 0 && tray.height === 0) return { x: right, y: workArea.y + GAP };

  const centreX = tray.x + tray.width / 2;
  const centreY = tray.y + tray.height / 2;
  const onSide = centreX < workArea.x || centreX > workArea.x + workArea.width;
  if (onSide) {
    // A taskbar on the left or right: open beside it, level with the icon.
    const x = centreX < workArea.x ? workArea.x + GAP : right;
    return { x: Math.round(x), y: Math.round(clamp(centreY - size.height / 2, workArea.y + GAP, bottom)) };
  }
  const atTop = centreY < workArea.y + workArea.height / 2;
  const y = atTop ? tray.y + tray.height + GAP : tray.y - size.height - GAP;
  return {
    x: Math.round(clamp(centreX - size.width / 2, workArea.x + GAP, right)),
    y: Math.round(clamp(y, workArea.y + GAP, bottom)),
  };
}
