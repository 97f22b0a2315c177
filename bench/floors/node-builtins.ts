/**
 * Cold-start floor of alicloud.logstore-encryption (SLS) and alicloud.table-bucket-encryption (OSS
 * Tables): atrest talks to both through its own small signed-HTTP clients, so there is no SDK to
 * measure against. The floor is the Node built-ins those clients need and nothing else.
 */
export * as crypto from 'node:crypto';
export * as http from 'node:http';
export * as https from 'node:https';
