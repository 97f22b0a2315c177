/**
 * The ActionTrail records alicloud.disk-default-kms owns, in one place (the remediator, the CLI's
 * routing and the infra's EventBridge rule read it from here).
 *
 * `EnableDiskEncryptionByDefault` (default encryption turned on: check the key) and
 * `ModifyDiskDefaultKMSKeyId` (someone changed the key: drift), as API calls, console operations
 * (the ECS console's "account-level default encryption" page) or service events.
 */
import type { TrailEvents } from '../events.ts';

export const CREATION_EVENTS = {
  names: ['EnableDiskEncryptionByDefault', 'ModifyDiskDefaultKMSKeyId'],
} as const satisfies TrailEvents;

/** Everything the function owns; tamper events join here. */
export const TRAIL_EVENTS: TrailEvents = { names: [...CREATION_EVENTS.names] };
