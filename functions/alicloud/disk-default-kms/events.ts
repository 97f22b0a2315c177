/**
 * The ActionTrail records alicloud.disk-default-kms owns, in one place (the remediator, the CLI's
 * routing and the infra's EventBridge rule read it from here).
 *
 * `EnableDiskEncryptionByDefault` (default encryption turned on: check the key) and
 * `ModifyDiskDefaultKMSKeyId` (someone changed the key: drift), as API calls, console operations
 * (the ECS console's "account-level default encryption" page) or service events.
 */
import type { DeliveryPath, TrailEvents } from '../events.ts';

export const CREATION_EVENTS = {
  names: ['EnableDiskEncryptionByDefault', 'ModifyDiskDefaultKMSKeyId'],
} as const satisfies TrailEvents;

/** Everything the function owns; tamper events join here. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names] };

/**
 * Delivery paths deployed when the config's `delivery` is absent. ECS is on EventBridge's list of ActionTrail event sources, and the timer backs it up; add `trail` for an organization's multi-account trail.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge'];
