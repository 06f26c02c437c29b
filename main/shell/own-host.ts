import { app } from 'electron';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { ControllerSettings } from '../core/controller-options.ts';
import { HostController } from '../core/host-controller.ts';
import { UtilityChild } from './utility-child.ts';

/** The HostController of an app that owns its home: the same one `harbor serve` runs, fitted to Electron. */
export function createOwnController(settings: ControllerSettings, logger: Logger): HostController {
  return new HostController({
    ...settings.controller,
    logger,
    // Packaged: cloudflared ships in the app's resources; from source: PATH or the cloudflared npm package.
    tunnel: { ...settings.controller.tunnel, ...(app.isPackaged ? { resourcesPath: process.resourcesPath } : {}), logger },
    // The runAsNode fuse is off in a packaged app, so child_process.fork cannot start Node there:
    // the host child runs as an Electron utility process, which speaks the same messages.
    launch: (modulePath, args, options) => new UtilityChild(modulePath, args, options) as unknown as ChildProcess,
  });
}
