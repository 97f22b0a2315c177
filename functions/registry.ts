/**
 * The functions atrest has: one line per function folder, and the only list of them. The export
 * names order them (f01, f02, … in the order they were added): every list derived from this one
 * (functions/manifests.ts) keeps that order, and CLI output, usage text and the infra follow it.
 * A new function is one more line here, `export { manifest as fNN } from './<cloud>/<fn>/manifest.ts'`.
 */

export { manifest as f03 } from './alicloud/cluster-kms/manifest.ts';
export { manifest as f05 } from './alicloud/disk-default-kms/manifest.ts';
export { manifest as f02 } from './alicloud/logstore-encryption/manifest.ts';
export { manifest as f04 } from './alicloud/table-bucket-encryption/manifest.ts';
export { manifest as f01 } from './aws/log-group-kms/manifest.ts';
