import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type StatusDocument, statusJsonSchema } from '../runtime/status-document.js';
import type { Metrics } from './metrics.js';

export interface HttpHandlers {
  metrics: Metrics;
  /** Refreshes pulled metrics right before a scrape. */
  beforeScrape?: () => void;
  /** The status document (the same as `status --json`). */
  status: () => Promise<StatusDocument> | StatusDocument;
  /** Ready: every source streaming (or deliberately idle). */
  ready: () => boolean;
  /** The admin API and page: true when it answered the request. */
  admin?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
}

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

/** `/metrics`, `/healthz`, `/readyz`, `/api/status`, `/api/status/schema`. */
export async function startHttpServer(
  listen: {
    host: string;
    port: number;
    timeouts?: { readMs?: number; readHeaderMs?: number; writeMs?: number; idleMs?: number };
  },
  handlers: HttpHandlers,
  log: Logger,
): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    void (async () => {
      try {
        switch (path) {
          case '/metrics':
            handlers.beforeScrape?.();
            send(
              200,
              handlers.metrics.registry.contentType,
              await handlers.metrics.registry.metrics(),
            );
            return;
          case '/healthz':
            send(200, 'text/plain', 'ok\n');
            return;
          case '/readyz':
            if (handlers.ready()) send(200, 'text/plain', 'ready\n');
            else send(503, 'text/plain', 'not ready\n');
            return;
          case '/api/status':
            send(200, 'application/json', `${JSON.stringify(await handlers.status(), null, 2)}\n`);
            return;
          case '/api/status/schema':
            send(
              200,
              'application/schema+json',
              `${JSON.stringify(statusJsonSchema(), null, 2)}\n`,
            );
            return;
          default:
            if (handlers.admin && (await handlers.admin(req, res))) return;
            send(
              404,
              'text/plain',
              'not found: try /metrics, /healthz, /readyz, /api/status, /api/status/schema\n',
            );
        }
      } catch (err: unknown) {
        log.error({ err, path }, 'http handler failed');
        send(500, 'text/plain', 'internal error\n');
      }
    })();
  });
  // The original's server.*_timeout settings.
  const t = listen.timeouts;
  if (t?.readMs !== undefined) server.requestTimeout = t.readMs;
  if (t?.readHeaderMs !== undefined) server.headersTimeout = t.readHeaderMs;
  if (t?.idleMs !== undefined) server.keepAliveTimeout = t.idleMs;
  if (t?.writeMs !== undefined) server.timeout = t.writeMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url }, 'http server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
