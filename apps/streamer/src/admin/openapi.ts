import { z } from 'zod';
import { ROUTES } from './admin-api.js';

const ERROR = {
  type: 'object',
  properties: {
    code: { type: 'string', example: 'invalid_request' },
    error: { type: 'string', example: "invalid database id 'x'" },
    info: { type: 'string' },
  },
  required: ['code', 'error'],
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/**
 * The admin API's OpenAPI 3.1 document, made from the route table the
 * server dispatches on (paths, methods, bodies from the same zod schemas
 * that validate them), so the two cannot drift apart.
 */
export function openApiDocument(version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'integer', minimum: 1 },
    }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema: { type: 'string' },
    }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\/api|[{}]/g, '').replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }),
                  ...(r.example ? { example: r.example } : {}),
                },
              },
            },
          }
        : {}),
      security: r.auth ? [{ bearer: [] }] : [],
      responses: {
        [String(r.status ?? 200)]: {
          description: 'Success (lists carry X-Total-Count)',
          content: { 'application/json': { schema: {} } },
        },
        '400': errorResponse('Invalid id or body'),
        ...(r.auth
          ? {
              '401': errorResponse('Not authenticated'),
              '403': errorResponse('The map is read-only (declarative mode)'),
            }
          : {}),
        ...(r.path.includes('{id}') ? { '404': errorResponse('No such id') } : {}),
        '500': errorResponse('Server failure'),
      },
    };
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'kuvasz-streamer admin API',
      version,
      description:
        "Compatible with the original kuvasz-streamer's routes and bodies (databases, URLs, tables, the map), plus login, re-copy of a table and this document. Changes need a bearer token (POST /api/login, or KUVASZ_API_TOKEN).",
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: ERROR },
    },
    paths,
  };
}
