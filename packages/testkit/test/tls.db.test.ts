import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PgCluster } from '../src/index.js';
import { startPostgres } from '../src/index.js';

/** With `tls: true` the server speaks TLS with certificates made for it, and takes client certificates. */
describe('a TLS-enabled embedded server', () => {
  let c: PgCluster;
  beforeAll(async () => {
    c = await startPostgres({ version: 17, tls: true });
  });
  afterAll(async () => {
    await c?.stop();
  });

  const sslOf = async (url: string): Promise<boolean> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const r = await client.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return r.rows[0]?.ssl === true;
    } finally {
      await client.end();
    }
  };

  test('verify-full with its CA, a client certificate, and a wrong CA refused', async () => {
    const tls = c.tls!;
    const q = (p: Record<string, string>) =>
      `${c.url}?${new URLSearchParams({ uselibpqcompat: 'true', ...p })}`;
    expect(await sslOf(q({ sslmode: 'verify-full', sslrootcert: tls.ca }))).toBe(true);
    expect(await sslOf(q({ sslmode: 'require' }))).toBe(true);
    const certUrl = `postgres://${tls.certUser}@${c.host}:${c.port}/postgres?${new URLSearchParams({
      uselibpqcompat: 'true',
      sslmode: 'verify-full',
      sslrootcert: tls.ca,
      sslcert: tls.clientCert,
      sslkey: tls.clientKey,
    })}`;
    expect(await sslOf(certUrl)).toBe(true);
    await expect(sslOf(q({ sslmode: 'verify-full', sslrootcert: tls.wrongCa }))).rejects.toThrow(
      /certificate/,
    );
    // Without a certificate, the certificate role is refused.
    await expect(
      sslOf(
        `postgres://${tls.certUser}@${c.host}:${c.port}/postgres?sslmode=require&uselibpqcompat=true`,
      ),
    ).rejects.toThrow(/certificate/);
  });
});
