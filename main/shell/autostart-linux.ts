import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Start at login on Linux: an XDG autostart entry (`$XDG_CONFIG_HOME/autostart/<id>.desktop`), which
 * GNOME, KDE, Xfce and most other desktops honour. Electron's setLoginItemSettings covers macOS and
 * Windows only. Plain Node, so it is tested without Electron.
 */
export interface AutostartOptions {
  /** File name stem, e.g. `harbor`. */
  id: string;
  name: string;
  /** The program and its arguments; for an AppImage, the AppImage file itself ($APPIMAGE). */
  exec: string[];
  comment?: string;
  env?: NodeJS.ProcessEnv;
}

export function autostartFile(id: string, env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(configHome, 'autostart', `${id}.desktop`);
}

/** Quotes an Exec argument per the Desktop Entry spec: reserved characters force double quotes, inside which " ` $ \ are escaped. */
export function desktopExecArg(arg: string): string {
  const escapedPercent = arg.replace(/%/g, '%%');
  if (escapedPercent && !/[\s"'\\><~|&;$*?#()`]/.test(escapedPercent)) return escapedPercent;
  return `"${escapedPercent.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function desktopEntry(options: AutostartOptions): string {
  // Newlines would start new keys: values are one line.
  const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ');
  return [
    '[Desktop Entry]',
    'Type=Application',
    `Name=${oneLine(options.name)}`,
    ...(options.comment ? [`Comment=${oneLine(options.comment)}`] : []),
    `Exec=${oneLine(options.exec.map(desktopExecArg).join(' '))}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export function setLinuxAutostart(enabled: boolean, options: AutostartOptions): void {
  const file = autostartFile(options.id, options.env);
  if (!enabled) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, desktopEntry(options), { mode: 0o644 });
}

/** On when our entry exists and was not disabled by the desktop's own settings (`Hidden=true`). */
export function isLinuxAutostartEnabled(id: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = autostartFile(id, env);
  if (!existsSync(file)) return false;
  const text = readFileSync(file, 'utf8');
  return !/^Hidden\s*=\s*true\s*$/m.test(text) && !/^X-GNOME-Autostart-enabled\s*=\s*false\s*$/m.test(text);
}
