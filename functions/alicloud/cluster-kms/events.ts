/**
 * The ActionTrail records alicloud.cluster-kms owns, in one place (the remediator, the CLI's
 * routing and the infra's EventBridge rule read it from here).
 *
 * Creation: ACK `CreateCluster` as an API call, a console operation (the ACK console's creation
 * wizard calls the same API) or a service event. The console's buy pages record purchases as
 * `Create` with the product's own eventSource (real trail samples for several products; see
 * events/SOURCES.md): for ACK that alias is accepted only when the record names the ACK service
 * (`serviceName` CS, or an eventSource on `cs.` / `cs-`). UNCONFIRMED for ACK itself: if its
 * console uses yet another name, the daily sweep still finds the cluster.
 */
import type { DeliveryPath, TrailEvents } from '../events.ts';

export const CREATION_EVENTS = {
  names: ['CreateCluster'],
  aliases: [
    {
      name: 'Create',
      means: 'CreateCluster',
      types: ['ConsoleOperation'],
      service: /^(cs|ack)([.-]|$)/i,
    },
  ],
} as const satisfies TrailEvents;

/**
 * Tamper (CONTRACT section 6): `UpdateKMSEncryption` with `disable_encryption: true` or another
 * key; one that sets the configured key is atrest's own write.
 */
export const TAMPER_EVENTS = { names: ['UpdateKMSEncryption'] } as const satisfies TrailEvents;

/** Everything the function owns. */
export const TRAIL_EVENTS: TrailEvents = {
  names: [...CREATION_EVENTS.names, ...TAMPER_EVENTS.names],
  aliases: [...CREATION_EVENTS.aliases],
};

/**
 * Delivery paths deployed when the config's `delivery` is absent. ACK is on EventBridge's list of
 * ActionTrail event sources; add `trail` for an organization's multi-account trail.
 */
export const DEFAULT_DELIVERY: readonly DeliveryPath[] = ['eventbridge'];
