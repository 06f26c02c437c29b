/**
 * What `harbor serve` shows on the terminal: human lines. The host child logs pino JSON (kept as is in
 * logs/host.log); here each JSON line becomes "12:04:31 warn  message key=value", and a plain line
 * (a stack trace, a config problem) passes unchanged.
 */
import type { NotificationSpec } from '../core/notification-rules.ts';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** pino's own fields: shown as the time, level and message, or not at all. */
const OWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);
const MAX_VALUE_CHARS = 200;
/** As the logger's redaction: a field named like a secret never reaches the terminal either. */
const SECRET_FIELD = /authorization|token|secret|cookie/i;

export function clock(at: number): string {
  return new Date(at).toTimeString().slice(0, 8);
}

/** A terminal line for one line of the host's output. */
export function humanLogLine(line: string, at: number): string {
  const record = parseRecord(line);
  if (!record) return line;
  const level = LEVELS[record.level as number] ?? 'info';
  const time = typeof record.time === 'number' ? record.time : at;
  const fields = Object.entries(record)
    .filter(([key]) => !OWN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${SECRET_FIELD.test(key) ? '[redacted]' : formatValue(value)}`);
  return [clock(time), level.padEnd(5), String(record.msg ?? ''), ...fields].join(' ').trimEnd();
}

function parseRecord(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && 'level' in value ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function formatValue(value: unknown): string {
  // An error logged as { err } reads best as its message.
  if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') {
    return JSON.stringify((value as { message: string }).message);
  }
  const text = typeof value === 'string' ? (/\s/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

const METHOD_LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * The same logger, whose calls also print a human line (for the foreground process's own messages;
 * the file keeps the JSON). A Proxy, so child loggers and every other property stay the pino ones.
 */
export function teeToTerminal<L extends { isLevelEnabled(level: string): boolean }>(logger: L, write: (line: string) => void): L {
  return new Proxy(logger, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      const level = typeof property === 'string' ? METHOD_LEVELS[property] : undefined;
      if (level === undefined || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        (value as (...a: unknown[]) => void).apply(target, args);
        if (target.isLevelEnabled(property as string)) write(humanLogLine(JSON.stringify(record(level, args)), Date.now()));
      };
    },
  });
}

/** pino's call forms: (msg), (obj, msg), (err, msg). */
function record(level: number, args: unknown[]): Record<string, unknown> {
  const [first, second] = args;
  const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
  const fields = first instanceof Error ? { err: { message: first.message } } : typeof first === 'object' && first !== null ? errorsAsMessages(first) : {};
  return { ...fields, level, time: Date.now(), msg };
}

function errorsAsMessages(fields: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value instanceof Error ? { message: value.message } : value]));
}

/**
 * A notification (main/core/notification-rules.ts) as `harbor serve` prints it: a sign-in waiting for
 * the owner names the command that answers it (the tray's wording points at its Team tab instead).
 */
export function notificationLine(spec: NotificationSpec): string {
  if (spec.kind === 'wants-to-connect' && spec.signIn && spec.approvalId) {
    const { teammate, client, invited } = spec.signIn;
    return `${teammate} wants to connect from ${client}${invited ? '' : ' (not invited)'} — approve with \`harbor approve ${spec.approvalId}\` (or harbor deny ${spec.approvalId})`;
  }
  return `${spec.title}: ${spec.body}`;
}
