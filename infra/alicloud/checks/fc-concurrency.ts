import { type RosRule, refersTo, resourcesOfType } from './rule.ts';

/** Every function has a concurrency cap, so a burst cannot exhaust the account's API quotas. */
export const fcConcurrency: RosRule = {
  id: 'ATREST-ROS-FC2',
  explanation: 'FC3 functions need an ALIYUN::FC3::ConcurrencyConfig (reservedConcurrency).',
  check(resource, logicalId, template) {
    if (resource.Type !== 'ALIYUN::FC3::Function') return 'NOT_APPLICABLE';
    return resourcesOfType(template, 'ALIYUN::FC3::ConcurrencyConfig').some(
      ([, c]) =>
        refersTo(c.Properties?.FunctionName, logicalId) && Number(c.Properties?.ReservedConcurrency) >= 1,
    )
      ? 'COMPLIANT'
      : 'NON_COMPLIANT';
  },
};
