/**
 * The "Add server" form's environment box: one KEY=VALUE a line, as in a .env file without its
 * quoting or expansion (the value is everything after the first "=", trimmed: spaces around it in a form
 * box are accidents; `${NAME}` stays for the host to resolve from its own environment). Blank lines and lines starting with # are skipped.
 * Hand-written: dotenv is a Node package and its quoting rules are more than a form box needs.
 */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    const key = equals < 0 ? line : line.slice(0, equals).trim();
    if (equals < 0) throw new Error(`line ${index + 1}: KEY=VALUE expected, got "${key}" with no "="`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`line ${index + 1}: "${key}" is not a variable name (letters, digits and _, not starting with a digit)`);
    if (key in env) throw new Error(`line ${index + 1}: ${key} is set twice`);
    env[key] = line.slice(equals + 1).trim();
  }
  return env;
}
