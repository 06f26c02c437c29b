import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real HTTPS server on 127.0.0.1, port 0, that plays the clients' side of Client ID Metadata
 * Documents: each path answers as the test sets it (a document, a redirect, HTML, silence). Its
 * certificate is self-signed, made here with the openssl CLI (node:crypto cannot make certificates),
 * for 127.0.0.1 and localhost; hand `cert` to Harbor as an extra CA.
 */

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface DocumentServer {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** PEM of the self-signed certificate (trust it as a CA). */
  cert: string;
  route(path: string, answer: Route): string;
  /** Serves `document` as JSON at `path`; answers the document's URL. */
  serve(path: string, document: (url: string) => object, headers?: Record<string, string>): string;
  /** Requests seen per path. */
  hits(path: string): number;
  close(): Promise<void>;
}

export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore', timeout: 20_000 },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const { key, cert } = selfSignedCertificate();
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const answer = routes.get(path);
    if (answer) return answer(req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such document');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    port,
    cert,
    route(path, answer) {
      routes.set(path, answer);
      return origin + path;
    },
    serve(path, document, headers = {}) {
      const url = origin + path;
      routes.set(path, (_req, res) => {
        const body = JSON.stringify(document(url));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers }).end(body);
      });
      return url;
    },
    hits: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        // Routes that never answer keep their sockets: end them too.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
