/**
 * The CloudTrail events aws.log-group-kms owns, in one place (the remediator, its manifest, the
 * CLI's routing and the infra's EventBridge rule read it from here).
 */

/** Every CloudTrail eventName this function acts on: creations, and tampers (CONTRACT section 6). */
export const EVENT_NAMES = {
  creation: ['CreateLogGroup'],
  tamper: ['DisassociateKmsKey', 'AssociateKmsKey'],
} as const;

export const DETAIL_TYPE = 'AWS API Call via CloudTrail';
export const SOURCE = 'aws.logs';
