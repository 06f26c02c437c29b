import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from '../../server/http/http-errors.ts';
import type { Handler } from '../../server/http/route-table.ts';

/** A table served by a real HTTP server on 127.0.0.1, as host-server.ts serves its own (500 on a throw or rejection). */
export async function serveTable(answer: Handler<unknown>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const failed = (error: Error) => sendJson(res, 500, { error: error.message });
    try {
      answer(req, res, undefined)?.catch(failed);
    } catch (error) {
      failed(error as Error);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function call(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

