/**
 * The shared half of the per-function test kit: the Driver interface every function's driver
 * (test/functions/<cloud>/<folder>/driver.ts) implements, and `deliver`. The hardening suites
 * (fault matrix, fuzzing, secrets, concurrency, the bench) reach the drivers through
 * test/hardening/drivers.ts, which finds them from the function manifests.
 *
 * Every client reaches its emulator through the endpoint variables of CONTRACT.md section 4 only.
 * Each driver names its service's own answers for the fault matrix (conflict, throttling, 5xx,
 * not found, permission denied, key problems); codes the vendor does not document are marked.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { remediateEvent } from '#core/engine';
import type { IdempotencyStore } from '#core/idempotency';
import type { FunctionId, Outcome, OutcomeKind } from '#core/outcome';
import type { Remediator } from '#core/remediator';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import type { Config } from '../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import type { EmulatedService, Fault } from '../emulator/harness.ts';
import type { CallKind } from './lag-proxy.ts';

/** Total tries of one call in every matrix config: "beyond the retry budget" is deterministic. */
export const MAX_ATTEMPTS = 4;
/** Request timeout of every client the drivers build: a `hang` fault costs this much, once. Long
 * enough that a loaded CI machine never times out a call that was not hung (at 200 ms one did). */
export const TIMEOUT_MS = 1_000;

export const RETRY = { maxAttempts: MAX_ATTEMPTS, baseMs: 1, capMs: 1 } as const;

// biome-ignore lint/suspicious/noExplicitAny: each function brings its own Target/Desired/State types.
export type AnyRemediator = Remediator<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON edited field by field.
export type EventJson = Record<string, any>;

/** A service answer used as an injected fault (`times` is set by the cell). */
export type Answer = Omit<Fault, 'times'>;

export interface Faults {
  conflict: Answer;
  throttle: Answer;
  serverError: Answer;
  /** The resource disappeared between the read and the write. */
  goneOnWrite: Answer;
  denied: Answer;
}

export interface DeliverOptions {
  store: IdempotencyStore;
  config?: Config;
  remediator?: AnyRemediator;
  /** Which resource (0 = the sample's own). */
  index?: number;
  /** Envelope id of this delivery; default derived from the index. */
  eventId?: string;
  /** Deliver the function's tamper event instead of its creation event (the restore path). */
  tamper?: boolean;
  /** Default: a fresh counter per delivery (the cap has its own tests). */
  restores?: RestoreCounter;
}

/** The fault matrix's cells (test/hardening/fault-matrix.test.ts). */
export type CellId =
  | 'conflict x1'
  | 'conflict x2'
  | 'conflict beyond the budget'
  | 'throttled x2'
  | 'throttled beyond the budget'
  | '5xx on the write'
  | '5xx on the read'
  | 'connection reset on the write'
  | 'connection reset on the read'
  | 'timeout on the write'
  | 'timeout on the read'
  | 'not found before the read'
  | 'not found between read and write'
  | 'not ready'
  | 'permission denied on the write'
  | 'permission denied on the read'
  | 'key disabled'
  | 'key missing'
  | 'read-back shows the old state once'
  | 'the write lands but its answer is lost';

/** What a fault-matrix cell expects of a delivery. */
export interface MatrixExpect {
  outcome: OutcomeKind;
  attempts: number;
  /** Write calls the service saw, and how many of them succeeded. */
  writeCalls: number;
  okWrites: number;
  encrypted: boolean;
  record: 'kept' | 'released';
  /** The service's own code in the outcome's error. */
  code?: string;
  /** The failure came from running out of tries. */
  exhausted?: boolean;
  /** Calls of the driver's read action. */
  readCalls?: number;
}

/** A driver's answer to a cell where its service differs from the table by design, or why the cell does not apply. */
export type MatrixOverride = Partial<MatrixExpect> | { na: string };

/** The cell "not ready" for an API with no such state. */
export const NOT_READY_NA = {
  na: 'the API has no "exists but not ready" state: the resource takes the key as soon as it exists',
} as const;

export interface Driver {
  readonly id: FunctionId;
  /** Its fault-matrix cells that differ from the table by design (with why), or do not apply. */
  readonly matrix?: Partial<Record<CellId, MatrixOverride>>;
  service: EmulatedService;
  url: string;
  /** The hosts its clients may connect to for a target in `region`, without endpoint overrides. */
  host(region: string): RegExp;
  /** Whether a resource a request names matches the API's own pattern for it. */
  isResourceName(resource: string): boolean;
  readonly readAction: string;
  readonly writeAction: string;
  /** API calls one logical read makes (ECS's default key: the status, then the key). */
  readonly callsPerRead: number;
  readonly faults: Faults;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Empty state, no faults, empty call log. */
  reset(): void;
  /** Resource `index` exists without the configured encryption. */
  seed(index?: number): void;
  /** Resource `index` does not exist when it is read (or, where it always exists, its read says not found). */
  remove(index?: number): void;
  /** Resource `index` exists but cannot take the change yet; undefined when the API has no such state. */
  notReady?: (index?: number) => void;
  /** Whether resource `index` holds the configured encryption now (the emulator's truth). */
  encrypted(index?: number): boolean;
  /** The config every cell uses (retry budget included). */
  config(): Config;
  /** Makes the configured key disabled or missing; returns the config to use and the code the service answers. */
  arrangeKey(kind: 'disabled' | 'missing'): { config: Config; code: string };
  /** The real remediator with short-timeout clients against `endpoint` (default: the emulator). */
  remediator(endpoint?: string): AnyRemediator;
  /** The sample event for resource `index`. */
  event(index?: number, eventId?: string): EventJson;
  /** What a request is, for the lag proxy. */
  kindOf(req: IncomingMessage): CallKind;
  /** Endpoint variables for this function's clients (also used by the platform handlers). */
  env(endpoint?: string): Record<string, string>;
  /** Points the process-wide endpoint variables back at the emulator (AWS reads them from process.env). */
  restoreEndpoint(): void;

  // The restore path (tamper events, CONTRACT section 6)
  /** The function's main tamper event for resource `index` (its sample in events/). */
  tamperEvent(index?: number, eventId?: string): EventJson;
  /** The event atrest's own restore write of resource `index` produces. */
  ownWriteEvent(index?: number, eventId?: string): EventJson;
  /** Resource `index` as the tamper event leaves it: the encryption removed or weakened. */
  strip(index?: number): void;
}

export const sample = (path: string): EventJson =>
  JSON.parse(readFileSync(new URL(`../../events/${path}`, import.meta.url), 'utf8'));

export async function deliver(driver: Driver, options: DeliverOptions): Promise<Outcome> {
  const index = options.index ?? 0;
  const [outcome] = await remediateEvent(
    options.remediator ?? driver.remediator(),
    options.tamper ? driver.tamperEvent(index, options.eventId) : driver.event(index, options.eventId),
    {
      config: options.config ?? driver.config(),
      store: options.store,
      restores: options.restores ?? new MemoryRestoreCounter(),
      sleep: async () => {},
      random: () => 0.5,
    },
  );
  if (!outcome) throw new Error(`${driver.id}: no outcome`);
  return outcome;
}

export const ALI_CREDENTIALS = () => EMULATOR_CREDENTIALS;
/** A string matched literally inside a RegExp. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const eventIdFor = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
