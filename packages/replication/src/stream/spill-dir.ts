import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Logger, messageOf } from '@kuvasz/core';
import { SpillIoError } from './spill-log.js';

const PREFIX = 'kuvasz-spill-';

/**
 * The directory of one stream's spill files: created on the first spill
 * (mode 0700 under `base`, default the OS temp dir), removed by `remove()`.
 * Directories left by processes that died (kill -9) are removed when a new
 * one is created: their names carry the owner's pid.
 */
export class SpillDir {
  private dir: string | undefined;
  private seq = 0;

  /** Called for each spill file created. */
  onFile: (() => void) | undefined;

  constructor(
    private readonly base: string = os.tmpdir(),
    private readonly log?: Logger,
  ) {}

  get path(): string | undefined {
    return this.dir;
  }

  /** A new file name inside the directory (creating it when needed). */
  fileFor(xid: number): string {
    if (this.dir === undefined) {
      this.reapOrphans();
      try {
        fs.mkdirSync(this.base, { recursive: true });
        this.dir = fs.mkdtempSync(path.join(this.base, `${PREFIX}${process.pid}-`));
      } catch (e) {
        throw new SpillIoError(`cannot create a spill directory in ${this.base}: ${messageOf(e)}`, {
          cause: e,
        });
      }
    }
    this.seq++;
    this.onFile?.();
    return path.join(this.dir, `xid-${xid}-${this.seq}.log`);
  }

  remove(): void {
    if (this.dir === undefined) return;
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private reapOrphans(): void {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.base);
    } catch {
      return;
    }
    for (const name of entries) {
      const m = /^kuvasz-spill-(\d+)-/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || isAlive(pid)) continue;
      fs.rmSync(path.join(this.base, name), { recursive: true, force: true });
      this.log?.info(
        { dir: path.join(this.base, name), pid },
        'removed spill files of a dead process',
      );
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
