import type { RosRule } from './rule.ts';

/** An SLS logstore of atrest's own is encrypted at rest: the tool passes its own check. */
export const logstoreEncrypted: RosRule = {
  id: 'ATREST-ROS-SLS1',
  explanation:
    'SLS logstores must set EncryptConf.Enable = true (atrest enforces logstore encryption; its own logs too).',
  check(resource) {
    if (resource.Type !== 'ALIYUN::SLS::Logstore') return 'NOT_APPLICABLE';
    const conf = resource.Properties?.EncryptConf;
    return conf?.Enable === true && typeof conf.EncryptType === 'string' ? 'COMPLIANT' : 'NON_COMPLIANT';
  },
};
