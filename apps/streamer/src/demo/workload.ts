import type pg from 'pg';

/**
 * A steady mixed workload on one source: new events, customer updates, price
 * changes, some purged events (which the append table keeps) and the odd
 * deleted customer. Each tick is one transaction.
 */
export class Workload {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private tick = 0;
  transactions = 0;
  errors = 0;

  constructor(
    private readonly client: pg.Client,
    private readonly ratePerSecond: number,
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.step(),
      Math.max(5, Math.round(1000 / this.ratePerSecond)),
    );
  }

  private async step(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const n = ++this.tick;
    try {
      await this.client.query('BEGIN');
      await this.client.query(
        `INSERT INTO events (customer, kind, payload)
         SELECT 1 + (random() * 199)::int, (ARRAY['login','order','refund'])[1 + (random() * 2)::int], jsonb_build_object('tick', $1::int)
         FROM generate_series(1, 5)`,
        [n],
      );
      await this.client.query(
        `UPDATE customers SET email = 'c' || id || '+' || $1::int || '@example.com', updated_at = now()
         WHERE id = 1 + ($1::int * 7) % 200`,
        [n],
      );
      if (n % 3 === 0) {
        await this.client.query(
          `UPDATE prices SET price = round((price * (0.95 + random() * 0.1))::numeric, 2) WHERE sku = 'SKU-' || lpad((1 + $1::int % 20)::text, 3, '0')`,
          [n],
        );
      }
      if (n % 10 === 0)
        await this.client.query(
          'DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 3)',
        );
      if (n % 25 === 0) {
        await this.client.query(
          `INSERT INTO customers (id, name, email, country) VALUES (1000 + $1::int, 'new customer ' || $1::int, NULL, 'HU')`,
          [n],
        );
        await this.client.query('DELETE FROM customers WHERE id = 1000 + $1::int - 25', [n]);
      }
      await this.client.query('COMMIT');
      this.transactions++;
    } catch {
      this.errors++;
      await this.client.query('ROLLBACK').catch(() => undefined);
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }
}
