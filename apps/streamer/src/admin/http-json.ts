import type http from 'node:http';

/**
 * An answer of the admin API that is not a success: the original's error
 * body `{ code, error, info? }` with its status (400 invalid id or body, 401
 * not authenticated, 403 read-only map, 404 missing, 409 conflict, 500).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly info?: string | undefined,
  ) {
    super(message);
  }

  body(): { code: string; error: string; info?: string } {
    return { code: this.code, error: this.message, ...(this.info ? { info: this.info } : {}) };
  }
}

export const badRequest = (message: string, info?: string) =>
  new ApiError(400, 'invalid_request', message, info);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

const MAX_BODY = 1 << 20;

/** The request's JSON body; a body that is not JSON, or too large, is a 400. */
export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw badRequest(`request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest('request body is not valid JSON', (e as Error).message);
  }
}

/** A path id: a positive integer, else 400 (the original's "invalid id"). */
export function parseId(text: string | undefined, what: string): number {
  const n = Number(text);
  if (!text || !Number.isInteger(n) || n < 1 || n > 2_147_483_647)
    throw badRequest(`invalid ${what} id '${text ?? ''}'`);
  return n;
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(
    `${JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
  );
}

/** A list, with react-admin's `X-Total-Count`. */
export function sendList(res: http.ServerResponse, items: unknown[]): void {
  sendJson(res, 200, items, {
    'x-total-count': String(items.length),
    'access-control-expose-headers': 'X-Total-Count',
  });
}
