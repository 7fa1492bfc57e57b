import htmJs from 'htm?raw';
import preactJs from 'preact?raw';
import { createHash } from 'node:crypto';
import type http from 'node:http';
import hooksJs from 'preact/hooks?raw';
import appJs from './web/app.js?raw';
import indexHtml from './web/index.html?raw';
import styleCss from './web/style.css?raw';

/**
 * The status and map page at `/`: Preact and htm (vendored from their npm
 * packages at build time, served under `/ui/`) and a small app that talks
 * to the admin API. Nothing is read from disk or the network at run time.
 */

const JS = 'text/javascript; charset=utf-8';

const ASSETS = new Map<string, { type: string; body: string }>([
  ['/ui/app.js', { type: JS, body: appJs }],
  ['/ui/style.css', { type: 'text/css; charset=utf-8', body: styleCss }],
  ['/ui/preact.js', { type: JS, body: preactJs }],
  ['/ui/hooks.js', { type: JS, body: hooksJs }],
  ['/ui/htm.js', { type: JS, body: htmJs }],
]);

/** The page's one inline script is its import map, allowed by its hash. */
const IMPORT_MAP = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml)?.[1];
if (IMPORT_MAP === undefined) throw new Error('web/index.html has no import map');
const IMPORT_MAP_HASH = createHash('sha256').update(IMPORT_MAP).digest('base64');

const SECURITY_HEADERS = {
  'content-security-policy': [
    "default-src 'none'",
    `script-src 'self' 'sha256-${IMPORT_MAP_HASH}'`,
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * Answers GET (and HEAD) of `/` and `/ui/...`; false for any other request.
 * `mapMode` tells the page up front whether the map can be changed.
 */
export function serveWebPage(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  mapMode: 'file' | 'destination',
): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let asset = ASSETS.get(path);
  if (path === '/')
    asset = {
      type: 'text/html; charset=utf-8',
      body: indexHtml.replace('data-map-mode=""', `data-map-mode="${mapMode}"`),
    };
  if (!asset) return false;
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': Buffer.byteLength(asset.body),
    ...SECURITY_HEADERS,
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}
