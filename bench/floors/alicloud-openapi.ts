/**
 * Cold-start floor of alicloud.cluster-kms (ACK) and alicloud.disk-default-kms (ECS): the generic
 * `@alicloud/openapi-client`, the official way to call ECS and ACK (its `callApi`), nothing else.
 * The functions build their requests exactly as it does but send them through our own bounded
 * transport (functions/alicloud/openapi.ts), so they carry less than this floor.
 */
export { default } from '@alicloud/openapi-client';
