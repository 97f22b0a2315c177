/**
 * `atrest replay`: each event through the function that owns it, in this process, with the real
 * cloud clients. Events that cannot be routed still get an outcome line: never a silent drop.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '#core/config';
import { remediateEvent } from '#core/engine';
import { FileIdempotencyStore, type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import { FUNCTION_IDS, type FunctionId, type Outcome } from '#core/outcome';
import { Registry } from './registry.ts';
import { UsageError } from './usage.ts';

export interface ReplayOptions {
  config: Config;
  dryRun: boolean;
  force: boolean;
  env: Record<string, string | undefined>;
  emit: (outcome: Outcome) => void;
  log: (line: string) => void;
  /** Default: $ATREST_IDEMPOTENCY_FILE, else per-process memory. */
  store?: IdempotencyStore;
  registry?: Registry;
}

/** One event to replay, with the file it came from (to name it in errors). */
export interface Loaded {
  source: string;
  event?: unknown;
  /** Set when the file could not be read as JSON. */
  problem?: string;
}

export async function replay(paths: string[], options: ReplayOptions): Promise<Outcome[]> {
  const store =
    options.store ??
    (options.env.ATREST_IDEMPOTENCY_FILE
      ? new FileIdempotencyStore(options.env.ATREST_IDEMPOTENCY_FILE)
      : new MemoryIdempotencyStore());
  const registry = options.registry ?? new Registry({ env: options.env });
  const outcomes: Outcome[] = [];
  const record = (o: Outcome) => {
    outcomes.push(o);
    options.emit(o);
  };
  for (const item of paths.flatMap(expand).flatMap(load)) {
    const started = Date.now();
    const remediator = item.problem === undefined ? await registry.route(item.event) : undefined;
    if (!remediator) {
      record(unroutable(item, started, options.dryRun));
      continue;
    }
    options.log(`atrest: ${item.source} -> ${remediator.id}`);
    for (const o of await remediateEvent(remediator, item.event, {
      config: options.config,
      store,
      dryRun: options.dryRun,
      force: options.force,
    }))
      record(o);
  }
  return outcomes;
}

/** The outcome line of an event no function owns: a broken file or non-event is `rejected`, another cloud event `ignored`. */
export function unroutable(item: Loaded, started: number, dryRun: boolean): Outcome {
  if (item.problem !== undefined)
    return unrouted(item.source, 'rejected', started, dryRun, {
      code: 'InvalidEvent',
      message: item.problem,
    });
  if (looksLikeEnvelope(item.event))
    return {
      ...unrouted(item.source, 'ignored', started, dryRun),
      reason: 'no atrest function handles this event',
    };
  return unrouted(item.source, 'rejected', started, dryRun, {
    code: 'InvalidEvent',
    message: 'not an EventBridge (AWS) or CloudEvents (Alibaba Cloud) event',
  });
}

/** A folder means every *.json in it (sorted, recursively); a file is itself. */
export function expand(path: string): string[] {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file or folder`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = join(path, entry.name);
      if (entry.isDirectory()) return expand(full);
      return entry.name.endsWith('.json') ? [full] : [];
    });
}

/** One event or a JSON array of events per file. */
export function load(path: string): Loaded[] {
  let value: unknown;
  try {
    // Editors on Windows save UTF-8 with a byte-order mark; JSON.parse would reject it with an
    // invisible character in the message.
    value = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    return [{ source: path, problem: `${path}: not valid JSON (${(error as Error).message})` }];
  }
  if (Array.isArray(value)) return value.map((event, i) => ({ source: `${path}[${i}]`, event }));
  return [{ source: path, event: value }];
}

export function looksLikeEnvelope(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const e = event as Record<string, unknown>;
  return (
    (typeof e['detail-type'] === 'string' && typeof e.source === 'string') ||
    (typeof e.specversion === 'string' && typeof e.type === 'string')
  );
}

/** The function an unroutable file was meant for, when its path names one (events/<cloud>/<name>/…). */
function functionFromPath(source: string): FunctionId | undefined {
  const normalized = source.replaceAll('\\', '/');
  return FUNCTION_IDS.find((id) => normalized.includes(`/${id.replace('.', '/')}/`));
}

export function unrouted(
  source: string,
  outcome: 'ignored' | 'rejected',
  started: number,
  dryRun: boolean,
  error?: { code: string; message: string },
): Outcome {
  return {
    // Outcome lines always name a function; an event nobody owns is reported against `unknown`.
    function: functionFromPath(source) ?? ('unknown' as FunctionId),
    eventId: '',
    resource: '',
    region: '',
    outcome,
    attempts: 0,
    durationMs: Date.now() - started,
    dryRun,
    ...(error ? { error } : {}),
  };
}
