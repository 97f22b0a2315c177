/**
 * The shared half of the per-function test kit: the Driver interface every function's driver
 * (test/functions/<cloud>/<folder>/driver.ts) implements, `defineDriver` (the lifecycle every
 * driver shares: start / stop / reset its emulator, one cached remediator, endpoint variables,
 * events built from its samples), and `deliver`. The suites (fault matrix, tamper, fuzzing,
 * endpoints, secrets, concurrency, the API-economy bench, the cold-start floors, the demo) reach
 * the drivers through test/hardening/drivers.ts, which finds them from the function manifests.
 *
 * Every client reaches its emulator through the endpoint variables of CONTRACT.md section 4 only.
 * Each driver names its service's own answers for the fault matrix (conflict, throttling, 5xx,
 * not found, permission denied, key problems); codes the vendor does not document are marked.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { vi } from 'vitest';
import { remediateEvent } from '#core/engine';
import { ConfigError } from '#core/errors';
import type { IdempotencyStore } from '#core/idempotency';
import type { FunctionId, Outcome, OutcomeKind } from '#core/outcome';
import type { Remediator, Target } from '#core/remediator';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION } from '#core/validation';
import { createAlicloudApi } from '../../functions/alicloud/openapi.ts';
import { type Config, parseConfig } from '../../functions/config.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { type Acs3Credential, EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import type { EmulatedService, Fault } from '../emulator/harness.ts';
import { type Hints, hostileString } from './arbitraries.ts';
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

export interface StartOptions {
  /**
   * The only credentials its emulator accepts (the secrets suite's known dummies), in Alibaba
   * Cloud's naming (an AWS driver takes accessKeySecret as the secret access key). Default: the
   * emulator's own.
   */
  credentials?: Acs3Credential[];
}

/** Which kind of sample: the creation, the tamper, or the event atrest's own restoring write produces. */
export type SampleKind = 'creation' | 'tamper' | 'own';

/** A driver's sample events (paths under events/) and where resource `index` goes in each. */
export interface Samples {
  readonly creation: string;
  /** Its main tamper event (CONTRACT.md section 6). */
  readonly tamper: string;
  /** The event of atrest's own restoring write (often the tamper sample, turned into the restore). */
  readonly own: string;
  /** Writes resource `index` (and, for `own`, the restored setting) into a copy of the sample. */
  place(event: EventJson, index: number, kind: SampleKind): void;
}

/** How the fuzzers (test/hardening/fuzz.test.ts, endpoints.test.ts) reach past its envelope checks. */
export interface FuzzSpec {
  /** The zod schema of its event envelope, built on first use (as the function builds it). */
  schema(): unknown;
  /** The sample (under events/) the mutations start from. */
  readonly sample: string;
  /** Values at dotted paths that steer generated events past the envelope checks. */
  readonly hints: Hints;
  /** Other inputs it parses (the disk function's FC timer events). */
  readonly more?: () => fc.Arbitrary<unknown>;
  /** Why a target it returned is not safe to use (names outside the API pattern, a host not the template), or []. */
  check(target: Target & Record<string, unknown>): string[];
}

export interface Driver {
  readonly id: FunctionId;
  /** The bench/floors/<floor>.ts its cold start is measured against (bench/cold-start.ts floorOf). */
  readonly floor: string;
  /** The error code its creation event carries when the call failed (the bench's `ignored` scenario). */
  readonly failedCode: string;
  readonly fuzz: FuzzSpec;
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
  /** The call a logical read starts with, whose answer decides the state, when it is not readAction. */
  readonly firstReadAction?: string;
  readonly faults: Faults;
  start(options?: StartOptions): Promise<void>;
  stop(): Promise<void>;
  /** Empty state, no faults, empty call log. */
  reset(): void;
  /** Resource `index` exists without the configured encryption. */
  seed(index?: number): void;
  /** Resource `index` exists and already holds the configured encryption. */
  seedCompliant(index?: number): void;
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
  /** The real remediator with its production clients, endpoints from `env` only: no emulator needed. */
  make(env: Record<string, string>): AnyRemediator;
  /** Its sample events (under events/) and where a resource goes in them. */
  readonly samples: Samples;
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

/**
 * Sample `path` as delivery `index` (or `eventId`). `tag` also sets the inner event id (CloudTrail
 * `detail.eventID`, ActionTrail `data.eventId`) to `<tag>-<id>`, so a tamper and atrest's own
 * write are distinct events for idempotency.
 */
export function sampleFor(path: string, index: number, eventId?: string, tag?: 'tamper' | 'own'): EventJson {
  const e = sample(path);
  e.id = eventId ?? eventIdFor(index);
  if (tag !== undefined) {
    if (e.detail) e.detail.eventID = `${tag}-${e.id}`;
    else e.data.eventId = `${tag}-${e.id}`;
  }
  return e;
}

/**
 * Sets a process-wide variable (the AWS SDK reads its endpoints there): through vi.stubEnv under
 * vitest, so unstubAllEnvs restores it; directly in the bench, which runs outside vitest.
 */
export function setEnv(name: string, value: string): void {
  if (process.env.VITEST) vi.stubEnv(name, value);
  else process.env[name] = value;
}

// ------------------------------------------------------------------------------------------------
// The lifecycle every driver shares: start / stop / reset its emulator, one cached remediator
// ------------------------------------------------------------------------------------------------

/** What the kit needs of a started emulator. */
export interface Emulator {
  service: EmulatedService;
  url: string;
  stop(): Promise<void>;
}

/** A driver's lifecycle specifics; `defineDriver` does the rest the same way for every function. */
export interface Lifecycle<E extends Emulator> {
  start(options: StartOptions): Promise<E>;
  /** Empties the emulator's state; the kit then clears its faults and call log. */
  clear(emulator: E): void;
  /** The endpoint variable its clients read (CONTRACT.md section 4). */
  readonly endpointVariable: string;
  /**
   * Its real remediator with short-timeout clients reading endpoints from `env`; `proxied` when
   * the endpoint is not the emulator's own (a fault or lag proxy in front of it).
   */
  build(env: Record<string, string>, proxied: boolean): AnyRemediator;
}

/** What each driver still writes itself: its data, its state, its events. */
export type Specifics = Omit<
  Driver,
  | 'service'
  | 'url'
  | 'start'
  | 'stop'
  | 'reset'
  | 'remediator'
  | 'env'
  | 'make'
  | 'kindOf'
  | 'restoreEndpoint'
  | 'event'
  | 'tamperEvent'
  | 'ownWriteEvent'
> &
  Partial<Pick<Driver, 'make' | 'kindOf' | 'restoreEndpoint'>>;

/** ROA / REST services: a PUT changes, a GET reads. */
export const kindByMethod = (req: IncomingMessage): CallKind => {
  if (req.method === 'PUT') return 'write';
  return req.method === 'GET' ? 'read' : undefined;
};

/**
 * One driver from its lifecycle and its specifics. `specifics` gets the running emulator (it
 * throws before start()) and the finished driver, for specifics that use other parts of it.
 */
export function defineDriver<E extends Emulator, S extends Specifics>(
  life: Lifecycle<E>,
  specifics: (emulator: () => E, self: Driver & { readonly emulator: E }) => S,
): Driver & S & { readonly emulator: E } {
  let running: E | undefined;
  let main: AnyRemediator | undefined;
  const emulator = (): E => {
    if (running === undefined) throw new Error('the driver is not started: call start() first');
    return running;
  };
  const env = (endpoint?: string): Record<string, string> => ({
    [life.endpointVariable]: endpoint ?? emulator().url,
  });
  const driver = {
    get emulator() {
      return emulator();
    },
    get service() {
      return emulator().service;
    },
    get url() {
      return emulator().url;
    },
    async start(options: StartOptions = {}) {
      running = await life.start(options);
      main = undefined;
    },
    async stop() {
      await running?.stop();
    },
    reset() {
      const e = emulator();
      life.clear(e);
      e.service.clearFaults();
      e.service.resetLog();
    },
    env,
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      const remediator = life.build(env(endpoint), endpoint !== undefined);
      if (endpoint === undefined) main = remediator;
      return remediator;
    },
    make: (e: Record<string, string>) => life.build(e, true),
    kindOf: kindByMethod,
    restoreEndpoint() {},
    event: (i = 0, eventId?: string) => placed('creation', i, eventId),
    tamperEvent: (i = 0, eventId?: string) => placed('tamper', i, eventId),
    ownWriteEvent: (i = 0, eventId?: string) => placed('own', i, eventId),
  };
  const self = driver as unknown as Driver & S & { readonly emulator: E };
  const own = specifics(emulator, self);
  /** The sample of `kind` as delivery `i`: its ids set (tamper-… / own-… inside), resource `i` placed. */
  function placed(kind: SampleKind, i: number, eventId?: string): EventJson {
    const e = sampleFor(own.samples[kind], i, eventId, kind === 'creation' ? undefined : kind);
    own.samples.place(e, i, kind);
    return e;
  }
  Object.assign(driver, own);
  return self;
}

/** A name of the API's pattern, or a hostile string. */
export const nameOrHostile = (pattern: RegExp): fc.Arbitrary<string> =>
  fc.oneof(fc.stringMatching(pattern), hostileString());

/** Alibaba Cloud hints: the ActionTrail event types, the function's event names, a successful call. */
export const aliNames = (names: readonly string[]): Hints => ({
  type: fc.constantFrom(
    'sls:ActionTrail:ApiCall',
    'cs:ActionTrail:ApiCall',
    'ecs:ActionTrail:ApiCall',
    'sls:ActionTrail:ConsoleOperation',
    'cs:ActionTrail:ConsoleOperation',
    'ecs:ActionTrail:AliyunServiceEvent',
  ),
  'data.eventName': fc.constantFrom(...names),
  'data.errorCode': fc.constant(null),
});

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
/** The OpenAPI client (ECS, ACK) with the kit's short timeouts, endpoints from `env`. */
export const aliApi = (env: Record<string, string>) =>
  createAlicloudApi({
    credentials: ALI_CREDENTIALS,
    env,
    readTimeoutMs: TIMEOUT_MS,
    connectTimeoutMs: TIMEOUT_MS,
  });

/** A per-region factory of one of our own clients (SLS, OSS Tables) with the kit's timeout, endpoints from `env`. */
export const regional =
  <C>(
    create: (o: {
      region: string;
      credentials: typeof ALI_CREDENTIALS;
      env: Record<string, string>;
      timeoutMs: number;
    }) => C,
    env: Record<string, string>,
  ) =>
  (region: string): C =>
    create({ region, credentials: ALI_CREDENTIALS, env, timeoutMs: TIMEOUT_MS });

/** The Alibaba Cloud account of the samples and the emulators. */
export const ACCOUNT = '1234567890123456';
/** A string matched literally inside a RegExp. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const eventIdFor = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;

/** What is wrong with an Alibaba Cloud target's region and account (documented patterns), or []. */
export const aliTargetProblems = (t: Target): string[] => [
  ...(ALICLOUD_REGION.test(t.region) ? [] : [`region ${t.region}`]),
  ...(ALICLOUD_ACCOUNT.test(t.account) ? [] : [`account ${t.account}`]),
];

/** The driver's config with extra keys in the function's section, parsed (an unknown key is a ConfigError). */
export function configWith(d: Driver, extra: Record<string, unknown>): Config {
  const config = structuredClone(d.config()) as Record<string, Record<string, Record<string, unknown>>>;
  const { cloud, section: key } = manifestOf(d.id);
  const section = config[cloud]?.[key];
  if (!section) throw new Error(`${d.id}: its driver's config has no ${cloud}.${key}`);
  Object.assign(section, extra);
  return parseConfig(config);
}

/**
 * The driver's config excluding every resource (`exclude: [pattern]`), or undefined when the
 * function's config has no exclude list (the account-level disk setting): its schema decides.
 */
export function excludingAll(d: Driver, pattern = '.*'): Config | undefined {
  try {
    return configWith(d, { exclude: [pattern] });
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}
