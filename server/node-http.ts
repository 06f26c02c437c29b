import { createRequire } from 'node:module';
import type * as Http from 'node:http';

/**
 * node:http, loaded with require rather than an ESM import. An ESM import builds the module's namespace
 * from every export, and node:http exports lazy getters (WebSocket, MessageEvent, CloseEvent) whose
 * first read loads undici, fetch's own HTTP stack: about 10 MB of RSS (Node 24, measured) in a process
 * that never calls fetch. Import createServer and request from here; types still come from 'node:http'.
 * test/unit/controller-imports.test.ts fails when undici is loaded again.
 */
const http = createRequire(import.meta.url)('node:http') as typeof Http;

export const createServer: typeof Http.createServer = http.createServer;
export const request: typeof Http.request = http.request;
