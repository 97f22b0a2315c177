import { type RosRule, referencedIds } from './rule.ts';

/**
 * An EventBridge trigger that tolerates errors (`errorsTolerance: ALL`) must send what it could not
 * deliver to a dead-letter queue; otherwise those events are dropped without a trace.
 */
export const triggerDeadLetter: RosRule = {
  id: 'ATREST-ROS-EB1',
  explanation:
    'FC3 eventbridge triggers need runOptions.deadLetterQueue.Arn referencing a queue in the template.',
  check(resource, _logicalId, template) {
    if (resource.Type !== 'ALIYUN::FC3::Trigger' || resource.Properties?.TriggerType !== 'eventbridge')
      return 'NOT_APPLICABLE';
    // TriggerConfig is passed to FC verbatim, so its keys are FC's own camelCase ones.
    const arn = resource.Properties?.TriggerConfig?.runOptions?.deadLetterQueue?.Arn;
    return referencedIds(arn).some((id) => template.Resources?.[id]?.Type === 'ALIYUN::MNS::Queue')
      ? 'COMPLIANT'
      : 'NON_COMPLIANT';
  },
};
