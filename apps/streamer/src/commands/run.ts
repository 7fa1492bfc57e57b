import { TargetError } from '@kuvasz/apply';
import { Backoff, sleep } from '@kuvasz/core';
import type { CliArgs } from '../cli/args.js';
import { type Config, loadConfig } from '../config/load.js';
import { Redactor } from '../config/secrets.js';
import { EXIT, StreamerError } from '../errors.js';
import { type HttpServer, startHttpServer } from '../observability/http-server.js';
import { createMetrics } from '../observability/metrics.js';
import { buildStatusDocument, type StatusDocument } from '../runtime/status-document.js';
import { Streamer } from '../runtime/streamer.js';
import { configFile, loadContext } from './context.js';

/**
 * `run`: the service. Resolves with the exit code once stopped by SIGINT /
 * SIGTERM (after flushing and acknowledging). SIGHUP re-reads the file and
 * restarts the pipeline with it; a broken file is reported and ignored.
 */
export async function runCommand(
  args: CliArgs,
  hooks: { onStarted?: (s: Streamer) => void } = {},
): Promise<number> {
  const { cfg: firstCfg, log } = await loadContext(args, 'run');
  let cfg = firstCfg;
  const metrics = createMetrics();
  const stopping = new AbortController();
  const tty = process.stderr.isTTY ? process.stderr : undefined;
  let streamer: Streamer | undefined;

  const start = async (): Promise<Streamer | undefined> => {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
    for (;;) {
      const s = new Streamer(cfg, log, metrics, tty);
      try {
        await s.start();
        log.info(
          {
            sources: cfg.sources.length,
            tables: cfg.sources.reduce((n, x) => n + x.tables.length, 0),
          },
          'streamer started',
        );
        hooks.onStarted?.(s);
        return s;
      } catch (err: unknown) {
        await s.stop().catch(() => undefined);
        if (err instanceof TargetError) {
          throw new StreamerError(
            'config',
            `${err.message}\nrun kuvasz-streamer plan -c ${cfg.file} to see the DDL the destination needs`,
            { cause: err },
          );
        }
        const wait = backoff.next();
        log.error(
          { err, retryInMs: wait },
          'cannot start the apply engine (destination); retrying',
        );
        await sleep(wait, stopping.signal);
        if (stopping.signal.aborted) return undefined;
      }
    }
  };

  let http: HttpServer | undefined;
  if (cfg.http) {
    http = await startHttpServer(
      cfg.http,
      {
        metrics,
        beforeScrape: () => streamer?.syncOperationMetrics(),
        status: () => {
          const redactor = new Redactor(cfg.secrets);
          return streamer ? streamer.statusDocument(redactor) : startingStatus(cfg, redactor);
        },
        ready: () => streamer?.ready() ?? false,
      },
      log,
    );
  }

  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      if (stopping.signal.aborted) return;
      log.info({ file: cfg.file }, 'SIGHUP: reloading the configuration');
      try {
        cfg = await loadConfig(configFile(args, 'run'), { destination: args.destination });
      } catch (err: unknown) {
        log.error({ err }, 'the new configuration is invalid; keeping the running one');
        return;
      }
      await streamer?.stop();
      streamer = await start();
    });
  };

  let signals = 0;
  const stop = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal: sig }, 'second signal: exiting without waiting');
      process.exit(EXIT.runtime);
    }
    log.info({ signal: sig }, 'stopping: flushing and acknowledging');
    stopping.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', reload);
  try {
    streamer = await start();
    if (!stopping.signal.aborted) {
      await new Promise<void>((resolve) =>
        stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
    await reloading;
    const deadline = cfg.apply.shutdownTimeoutMs;
    if (!(await stopWithin(streamer, deadline))) {
      const pending = streamer?.unflushed() ?? [];
      log.error(
        { deadlineMs: deadline, sources: pending },
        `stopping: not flushed within ${deadline} ms (${pending.join(', ') || 'the destination'}); exiting anyway: what was not acknowledged is replayed at the next start`,
      );
      process.exit(EXIT.runtime);
    }
    log.info('stopped');
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', reload);
    await http?.close();
  }
}

/** Stops the streamer; false when it did not finish within `ms` (it goes on in the background). */
async function stopWithin(streamer: Streamer | undefined, ms: number): Promise<boolean> {
  if (!streamer) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([streamer.stop().then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The status while the pipeline (re)starts: every source starting, nothing read yet. */
function startingStatus(cfg: Config, redactor: Redactor): StatusDocument {
  return buildStatusDocument({
    cfg,
    redactor,
    stored: [],
    live: cfg.sources.map((s) => ({
      database: s.database,
      sid: s.sid,
      slot: '',
      state: 'starting',
      lastError: undefined,
      receivedLsn: undefined,
      flushedLsn: undefined,
      lagSeconds: 0,
      retries: 0,
    })),
    health: new Map(),
    sync: new Map(),
    stats: [],
  });
}
