/**
 * `atrest replay`: each event through the function that owns it, in this process, with the real
 * cloud clients. Events that cannot be routed still get an outcome line: never a silent drop.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { remediateEvent } from '#core/engine';
import { FileIdempotencyStore, type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { FunctionId, Outcome } from '#core/outcome';
import { localRestoreCounter, type RestoreCounter } from '#core/restores';
import { isBareTrailRecord } from '../alicloud/events.ts';
import type { Config } from '../config.ts';
import { FUNCTION_IDS } from '../manifests.ts';
import { CliAccounts } from './accounts.ts';
import { unwrapDeadLetters } from './dead-letters.ts';
import { Registry } from './registry.ts';
import { expandTrail, type Loaded } from './trail.ts';
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
  /** Counts tamper restores. Default: beside $ATREST_IDEMPOTENCY_FILE (`<file>.restores`), else per-process memory. */
  restores?: RestoreCounter;
  registry?: Registry;
  /** Own account (GetCallerIdentity, once) and member accounts. Default: one per run. */
  accounts?: CliAccounts;
  /** The text of standard input, when a path is `-`. */
  stdin?: string;
}

/** The path that means standard input. */
export const STDIN = '-';

export async function replay(paths: string[], options: ReplayOptions): Promise<Outcome[]> {
  const store =
    options.store ??
    (options.env.ATREST_IDEMPOTENCY_FILE
      ? new FileIdempotencyStore(options.env.ATREST_IDEMPOTENCY_FILE)
      : new MemoryIdempotencyStore());
  const restores = options.restores ?? localRestoreCounter(options.env);
  const registry = options.registry ?? new Registry({ env: options.env });
  const accounts = options.accounts ?? new CliAccounts({ env: options.env, registry });
  const outcomes: Outcome[] = [];
  const record = (o: Outcome) => {
    outcomes.push(o);
    options.emit(o);
  };
  const items: Loaded[] = [];
  // An SLS-trigger event stands for the trail records of its range: each is routed on its own.
  for (const item of collect(paths, options.stdin)) items.push(...(await expandTrail(item, options.env)));
  for (const item of items) {
    const started = Date.now();
    if (item.failure !== undefined) {
      record({
        ...unrouted(item.source, 'ignored', started, options.dryRun),
        outcome: 'failed',
        error: item.failure,
      });
      continue;
    }
    const owner = item.problem === undefined ? await registry.route(item.event) : undefined;
    // Whose account: the caller's own (GetCallerIdentity, once), a member's, or none of ours.
    const remediator = owner ? accounts.wrap(owner, options.config) : undefined;
    if (!remediator) {
      record(unroutable(item, started, options.dryRun));
      continue;
    }
    options.log(`atrest: ${item.source} -> ${remediator.id}`);
    for (const o of await remediateEvent(remediator, item.event, {
      config: options.config,
      store,
      restores,
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

/**
 * Every event the paths hold, dead-letter wrappers unwrapped: `-` is standard input, a folder every
 * *.json in it, a file one event, a JSON array of events, one JSON document per line, or a dead
 * letter (dead-letters.ts).
 */
export function collect(paths: string[], stdin?: string): Loaded[] {
  return paths.flatMap((path) => {
    if (path !== STDIN) return expand(path).flatMap(load);
    if (stdin === undefined) throw new UsageError('"-" means standard input, and there is none');
    return parse(stdin, 'stdin');
  });
}

/** A folder means every *.json in it (sorted, recursively); a file is itself. */
function expand(path: string): string[] {
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

/** One event, a JSON array of events, or a dead letter holding events, per file. */
function load(path: string): Loaded[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return [{ source: path, problem: `${path}: cannot be read (${(error as Error).message})` }];
  }
  return parse(text, path);
}

/** JSON text → events. Empty input (an empty queue) is no event; a UTF-8 BOM is tolerated. */
function parse(text: string, source: string): Loaded[] {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return (
      ndjson(body, source) ?? [{ source, problem: `${source}: not valid JSON (${(error as Error).message})` }]
    );
  }
  return unwrapDeadLetters(value, source);
}

/** One JSON document per line (saved queue bodies, concatenated receive-message batches), or undefined. */
function ndjson(body: string, source: string): Loaded[] | undefined {
  const lines = body.split(/\r?\n/).flatMap((text, i) => (text.trim() === '' ? [] : [{ text, line: i + 1 }]));
  if (lines.length < 2) return undefined;
  const values: Array<{ value: unknown; line: number }> = [];
  for (const { text, line } of lines) {
    try {
      values.push({ value: JSON.parse(text), line });
    } catch {
      return undefined;
    }
  }
  return values.flatMap(({ value, line }) => unwrapDeadLetters(value, `${source}:${line}`));
}

function looksLikeEnvelope(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const e = event as Record<string, unknown>;
  return (
    (typeof e['detail-type'] === 'string' && typeof e.source === 'string') ||
    (typeof e.specversion === 'string' && typeof e.type === 'string') ||
    isBareTrailRecord(e)
  );
}

/** The function an unroutable file was meant for, when its path names one (events/<cloud>/<name>/…). */
function functionFromPath(source: string): FunctionId | undefined {
  const normalized = source.replaceAll('\\', '/');
  return FUNCTION_IDS.find((id) => normalized.includes(`/${id.replace('.', '/')}/`));
}

function unrouted(
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
