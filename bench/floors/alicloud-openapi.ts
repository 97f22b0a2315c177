/**
 * Cold-start floor of alicloud.cluster-kms (ACK) and alicloud.disk-default-kms (ECS): the generic
 * `@alicloud/openapi-client` whose `callApi` both functions use for every call, nothing else.
 */
export { default } from '@alicloud/openapi-client';
