import type { RosRule } from './rule.ts';

/**
 * atrest's own Tablestore data encrypted at rest. Tablestore supports it per table
 * (CreateTable `SSESpecification`, alibabacloud.com/help/en/tablestore/developer-reference/ssespecification),
 * but ALIYUN::OTS::Table in @alicloud/ros-cdk-ots 1.11.0 has no such property, so a table created
 * by ROS cannot pass; the stack must acknowledge it with its reason (see index.ts).
 */
export const otsTableEncrypted: RosRule = {
  id: 'ATREST-ROS-OTS1',
  explanation: 'Tablestore tables must be created with server-side encryption (SSESpecification.Enable).',
  check(resource) {
    if (resource.Type !== 'ALIYUN::OTS::Table') return 'NOT_APPLICABLE';
    return resource.Properties?.SSESpecification?.Enable === true ? 'COMPLIANT' : 'NON_COMPLIANT';
  },
};
