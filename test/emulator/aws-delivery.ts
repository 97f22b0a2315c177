/**
 * Emulated AWS CloudTrail (DescribeTrails, GetTrailStatus, GetEventSelectors; signing name
 * `cloudtrail`, target prefix `CloudTrail_20131101` or its long form
 * `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`) and EventBridge (ListRules; signing
 * name `events`, target prefix `AWSEvents`), for `atrest doctor`'s delivery checks. AWS JSON 1.1
 * (`POST /`, `x-amz-target`), SigV4 verified, errors as `{"__type","message"}`.
 */
import { EmulatedService, ServiceFailure } from './harness.ts';
import { type Json11Body as Body, Json11Handler, secretsOf } from './sigv4.ts';

export interface EmulatedAwsTrail {
  Name: string;
  HomeRegion: string;
  IsMultiRegionTrail: boolean;
  isLogging: boolean;
  /** GetEventSelectors answer; default: management events, All. */
  selectors?: { EventSelectors?: unknown[]; AdvancedEventSelectors?: unknown[] };
}

export interface EmulatedAwsRule {
  Name: string;
  State: 'ENABLED' | 'DISABLED';
  EventPattern: string;
}

class CloudTrailHandler extends Json11Handler {
  constructor(
    readonly trails: EmulatedAwsTrail[],
    secrets: ReadonlyMap<string, string>,
  ) {
    super(
      {
        prefixes: ['CloudTrail_20131101', 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101'],
        operations: ['DescribeTrails', 'GetTrailStatus', 'GetEventSelectors'],
        signingName: 'cloudtrail',
      },
      secrets,
    );
  }

  private arn(t: EmulatedAwsTrail): string {
    return `arn:aws:cloudtrail:${t.HomeRegion}:111122223333:trail/${t.Name}`;
  }

  protected answer(action: string, body: Body, region: string, log: (resource: string) => void): unknown {
    if (action === 'DescribeTrails') {
      // Shadow trails: a multi-region trail shows in every region when includeShadowTrails is on (the default).
      const shadows = body.includeShadowTrails !== false;
      return {
        trailList: this.trails
          .filter((t) => t.HomeRegion === region || (shadows && t.IsMultiRegionTrail))
          .map((t) => ({
            Name: t.Name,
            TrailARN: this.arn(t),
            HomeRegion: t.HomeRegion,
            IsMultiRegionTrail: t.IsMultiRegionTrail,
            S3BucketName: 'trail-bucket',
          })),
      };
    }
    const name = String(action === 'GetTrailStatus' ? body.Name : body.TrailName);
    log(name);
    const trail = this.trails.find((t) => t.Name === name || this.arn(t) === name);
    if (!trail) throw new ServiceFailure(400, 'TrailNotFoundException', `Unknown trail: ${name}`);
    if (action === 'GetTrailStatus') return { IsLogging: trail.isLogging };
    return {
      TrailARN: this.arn(trail),
      ...(trail.selectors ?? {
        EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [] }],
      }),
    };
  }
}

class EventBridgeHandler extends Json11Handler {
  constructor(
    readonly rules: EmulatedAwsRule[],
    secrets: ReadonlyMap<string, string>,
  ) {
    super({ prefixes: ['AWSEvents'], operations: ['ListRules'], signingName: 'events' }, secrets);
  }

  protected answer(_action: string, body: Body, region: string): unknown {
    const bus = typeof body.EventBusName === 'string' ? body.EventBusName : 'default';
    const rules = bus === 'default' ? this.rules : [];
    const limit = Math.min(typeof body.Limit === 'number' ? body.Limit : 100, 100);
    const start = typeof body.NextToken === 'string' ? Number(body.NextToken) || 0 : 0;
    const page = rules.slice(start, start + limit);
    return {
      Rules: page.map((r) => ({
        ...r,
        Arn: `arn:aws:events:${region}:111122223333:rule/${r.Name}`,
        EventBusName: bus,
      })),
      ...(start + limit < rules.length ? { NextToken: String(start + limit) } : {}),
    };
  }
}

export interface AwsDeliveryEmulator {
  cloudtrail: EmulatedService;
  eventbridge: EmulatedService;
  trails: EmulatedAwsTrail[];
  rules: EmulatedAwsRule[];
  /** The SDK's own endpoint variables pointing at both. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startAwsDelivery(
  options: { credentials?: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }> } = {},
): Promise<AwsDeliveryEmulator> {
  const secrets = secretsOf(options.credentials);
  const trails: EmulatedAwsTrail[] = [];
  const rules: EmulatedAwsRule[] = [];
  const cloudtrail = new EmulatedService('cloudtrail', new CloudTrailHandler(trails, secrets));
  const eventbridge = new EmulatedService('events', new EventBridgeHandler(rules, secrets));
  const [ct, eb] = await Promise.all([cloudtrail.start(), eventbridge.start()]);
  return {
    cloudtrail,
    eventbridge,
    trails,
    rules,
    env: { AWS_ENDPOINT_URL_CLOUDTRAIL: ct, AWS_ENDPOINT_URL_EVENTBRIDGE: eb },
    stop: async () => {
      await Promise.all([cloudtrail.stop(), eventbridge.stop()]);
    },
  };
}

/** The pattern the AWS stack's rule uses (infra/aws): CloudTrail CreateLogGroup calls that succeeded. */
export const CREATE_LOG_GROUP_PATTERN = JSON.stringify({
  source: ['aws.logs'],
  'detail-type': ['AWS API Call via CloudTrail'],
  detail: {
    eventSource: ['logs.amazonaws.com'],
    eventName: ['CreateLogGroup'],
    errorCode: [{ exists: false }],
  },
});
