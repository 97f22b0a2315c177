/**
 * The Remediator interface: what each function supplies to the engine. Pure decisions (parse,
 * desire, evaluate, classify) are plain functions with no I/O; `read` and `apply` are the only
 * cloud calls, and `list` (for `atrest sweep`) the only enumeration.
 */
import type { Config } from './config.ts';
import type { RemediationError } from './errors.ts';
import type { FunctionId } from './outcome.ts';

/** What an event names: enough to read and write the resource, and to key idempotency. */
export interface Target {
  eventId: string;
  account: string;
  region: string;
  /** ARN (AWS) or id (Alibaba Cloud) as printed in the outcome line. */
  resource: string;
  /**
   * When the work was found (ISO 8601): CloudTrail `detail.eventTime`, ActionTrail `data.eventTime`
   * (else the envelope's `time`), a timer's `triggerTime`. Absent (a sweep's listing): the moment the
   * engine takes the target. Idempotency compares it with a completed record's start: a delivery
   * observed at or before the moment a completed run began reading is that run's work (`duplicate`);
   * one observed later is new work (a re-creation under the same name, a tamper, a later drift).
   */
  observedAt?: string;
  /**
   * Set when the event removed or weakened the encryption (a tamper event, CONTRACT section 6):
   * a write for it is a restore, counted against the resource's hourly cap before it is made.
   */
  tamper?: Tamper;
}

/** What a tamper target carries into the engine: the event, and the cap of its function's config. */
export interface Tamper {
  /** The API call that removed or weakened the encryption (e.g. `DisassociateKmsKey`). */
  event: string;
  /**
   * That call's own id (CloudTrail `eventID`, ActionTrail `eventId`), the same in every delivery,
   * retry and re-queue of it: the cap counts distinct tampers, so retrying one never uses it up.
   */
  callId: string;
  /** Restores allowed per resource and clock hour (config `maxRestoresPerHour`, default 3). */
  maxRestoresPerHour: number;
}

/** Where a parse could not produce targets, whatever it could still tell about the event. */
export interface EventFacts {
  eventId?: string;
  resource?: string;
  region?: string;
  account?: string;
}

export type Parsed<T extends Target> =
  | { kind: 'targets'; targets: T[] }
  | ({ kind: 'ignored'; reason: string } & EventFacts)
  | ({ kind: 'rejected'; code: string; reason: string } & EventFacts);

export type Desire<D> =
  /** `key` is a printable summary of `desired` for idempotency and logs (a key ARN, `AES256`, …). */
  | { kind: 'desired'; desired: D; key: string }
  | { kind: 'excluded'; reason: string }
  /** The function's config section is absent: switched off. */
  | { kind: 'off' };

export type Observed<S> =
  | { kind: 'found'; state: S }
  | { kind: 'gone' }
  | { kind: 'notReady'; reason: string };

export type Verdict =
  | { kind: 'compliant' }
  | { kind: 'write' }
  | { kind: 'excluded'; reason: string }
  /** Cannot be fixed by writing (e.g. SLS encryption is immutable once set): `failed`, no write. */
  | { kind: 'blocked'; code: string; message: string };

/** One page of a listing. */
export interface ListPage<T> {
  targets: T[];
  /** Where the next page starts (an opaque string); absent on the last page. */
  next?: string;
}

/** A target the function must not touch at all (another account, an excluded account). */
export interface Admission {
  outcome: 'ignored' | 'excluded';
  reason: string;
}

export interface Remediator<T extends Target = Target, D = unknown, S = unknown> {
  readonly id: FunctionId;
  /** Cheap envelope check used to route an event to its function (CLI replay, shared buses). */
  owns(event: unknown): boolean;
  /** Validates the delivered event. Must not throw: a malformed event is `rejected` with the reason. */
  parse(event: unknown, config: Config): Parsed<T>;
  /**
   * Asked before anything else for each target (#core/accounts: whose account is it?): an answer
   * ends the target with that outcome, no read, no idempotency record. Absent: every target is admitted.
   */
  admit?(target: T, config: Config): Admission | undefined | Promise<Admission | undefined>;
  /** The encryption the config wants for this target. */
  desire(target: T, config: Config): Desire<D>;
  /** One read of the resource's current encryption. Throws a RemediationError (via classify) on API errors. */
  read(target: T): Promise<Observed<S>>;
  /** Whether the observed state already satisfies the desire. */
  evaluate(state: S, desired: D, target: T): Verdict;
  /** One write of the seed API. Throws on API errors. */
  apply(target: T, desired: D, state: S): Promise<void>;
  /** Maps whatever `read`/`apply` threw to the typed hierarchy. */
  classify(error: unknown): RemediationError;
  /** Every existing resource of this kind in a region, for `atrest sweep`. */
  list?(region: string, config: Config): AsyncIterable<T>;
  /**
   * One page of `list`, from `cursor` (absent: the first page); `list` is their concatenation.
   * A sweep uses it to pace pages like any other call, retry one page after a throttle instead of
   * restarting the listing, and resume the next scheduled run where this one ran out of time.
   */
  listPage?(region: string, config: Config, cursor?: string): Promise<ListPage<T>>;
}
