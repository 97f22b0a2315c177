import { type RosRule, referencedIds, refersTo, resourcesOfType } from './rule.ts';

/**
 * Every function has an async invoke config whose on-failure destination is built from a resource
 * of this template (a Ref or GetAtt): a hand-typed ARN gives ROS no dependency, so the consumer may
 * be created before its queue exists.
 */
export const fcDeadLetter: RosRule = {
  id: 'ATREST-ROS-FC1',
  explanation:
    'FC3 functions need an AsyncInvokeConfig with an OnFailure destination referencing a queue in the template.',
  check(resource, logicalId, template) {
    if (resource.Type !== 'ALIYUN::FC3::Function') return 'NOT_APPLICABLE';
    const configs = resourcesOfType(template, 'ALIYUN::FC3::AsyncInvokeConfig').filter(([, c]) =>
      refersTo(c.Properties?.FunctionName, logicalId),
    );
    return configs.some(([, c]) => {
      const destination = c.Properties?.DestinationConfig?.OnFailure?.Destination;
      return referencedIds(destination).some((id) => template.Resources?.[id]?.Type === 'ALIYUN::MNS::Queue');
    })
      ? 'COMPLIANT'
      : 'NON_COMPLIANT';
  },
};
