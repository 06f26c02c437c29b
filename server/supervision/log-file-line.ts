import type { LogLine, LogStream } from './rotating-log.ts';

const STREAMS = new Set<string>(['stdout', 'stderr', 'supervisor']);

/**
 * One line of a file RotatingLog wrote (`<ISO time> <stream> <line>`), back as the LogLine it was:
 * the dashboard shows its real time. A line in another shape (an old file, a hand edit) keeps its
 * text, with the file's stream unknown and no time (0).
 */
export function parseLogFileLine(text: string): LogLine {
  const first = text.indexOf(' ');
  const second = first < 0 ? -1 : text.indexOf(' ', first + 1);
  const at = first < 0 ? NaN : Date.parse(text.slice(0, first));
  const stream = second < 0 ? '' : text.slice(first + 1, second);
  if (Number.isNaN(at) || !STREAMS.has(stream)) return { at: 0, stream: 'stderr', line: text };
  return { at, stream: stream as LogStream, line: text.slice(second + 1) };
}
