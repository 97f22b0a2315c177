/**
 * RAM permissions of alicloud.table-bucket-encryption. The action names are the ones the OSS
 * Tables API reference lists (RAM code `oss`); the resource form `acs:osstables:…:bucket/<name>`
 * is the one Alibaba Cloud's own AliyunServiceRolePolicyForOSSSystemTables uses. The resource
 * ListTableBuckets is authorised on is not documented; the bucket wildcard is our assumption.
 */
import type { PermissionSet } from '#core/permissions';

const BUCKETS = 'acs:osstables:{region}:{account}:bucket/*';

export const permissions: PermissionSet = {
  cloud: 'alicloud',
  statements: [
    {
      actions: ['oss:GetTableBucketEncryption', 'oss:PutTableBucketEncryption'],
      resources: [BUCKETS],
      why: 'read and set the default encryption of a table bucket',
    },
    {
      actions: ['oss:ListTableBuckets'],
      resources: [BUCKETS],
      why: 'sweep: list the table buckets of a region',
    },
  ],
};
