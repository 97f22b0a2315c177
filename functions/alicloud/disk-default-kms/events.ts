/**
 * The ActionTrail records alicloud.disk-default-kms owns, in one place (the remediator, the CLI's
 * routing and the infra's EventBridge rule read it from here).
 *
 * `EnableDiskEncryptionByDefault` (default encryption turned on: check the key) and the tampers
 * below, as API calls, console operations
 * (the ECS console's "account-level default encryption" page) or service events.
 */
import type { DeliveryPath, TrailEvents } from '../events.ts';

export const CREATION_EVENTS = { names: ['EnableDiskEncryptionByDefault'] } as const satisfies TrailEvents;

/**
 * Tampers (CONTRACT section 6), restored at most `maxRestoresPerHour` times an hour:
 * `ModifyDiskDefaultKMSKeyId` (drift; one that set the configured key, e.g. atrest's own, reads
 * `compliant`), `ResetDiskDefaultKMSKeyId` (back to the service key) and
 * `DisableDiskEncryptionByDefault` (restored only with `enableIfDisabled`, else `excluded`).
 */
export const TAMPER_EVENTS = {
  names: ['ModifyDiskDefaultKMSKeyId', 'DisableDiskEncryptionByDefault', 'ResetDiskDefaultKMSKeyId'],
} as const satisfies TrailEvents;

/** Everything the function owns. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names, ...TAMPER_EVENTS.names] };

/**
 * Delivery paths deployed when the config's `delivery` is absent. ECS is on EventBridge's list of
 * ActionTrail event sources, and the timer backs it up; add `trail` for an organization's multi-
 * account trail.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge'];
