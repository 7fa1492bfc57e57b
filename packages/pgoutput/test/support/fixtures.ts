import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fixture } from '../capture/capture.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface LoadedFixture extends Fixture {
  file: string;
  /** The decoded-from-hex payloads, in order. */
  payloads: Uint8Array[];
}

/** Every committed golden fixture, e.g. `pg17/stream.v4.json`. */
export function loadFixtures(): LoadedFixture[] {
  const out: LoadedFixture[] = [];
  for (const dir of readdirSync(FIXTURES_DIR).sort()) {
    if (!dir.startsWith('pg')) continue;
    for (const name of readdirSync(path.join(FIXTURES_DIR, dir)).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = `${dir}/${name}`;
      const fx = JSON.parse(readFileSync(path.join(FIXTURES_DIR, file), 'utf8')) as Fixture;
      out.push({
        ...fx,
        file,
        payloads: fx.changes.map((c) => new Uint8Array(Buffer.from(c.data, 'hex'))),
      });
    }
  }
  return out;
}

export function loadFixture(file: string): LoadedFixture {
  const fx = loadFixtures().find((f) => f.file === file);
  if (!fx) throw new Error(`fixture ${file} is missing; run PGOUTPUT_CAPTURE=1 pnpm test capture`);
  return fx;
}
