/**
 * Emulated ECS (RPC API 2014-05-26), account-level default disk encryption only:
 * DescribeDiskEncryptionByDefaultStatus, DescribeDiskDefaultKMSKeyId, EnableDiskEncryptionByDefault
 * ModifyDiskDefaultKMSKeyId, and the tampers DisableDiskEncryptionByDefault and
 * ResetDiskDefaultKMSKeyId (back to the service key). ACS3-signed `POST /?RegionId=…` with the action in `x-acs-action`,
 * exactly what `@alicloud/openapi-client` sends.
 *
 * Error codes are the documented ones (ModifyDiskDefaultKMSKeyId reference): an unknown key is
 * 403 `InvalidOperation.KMSKeyIdNotFound`, a disabled one 400 `InvalidParameter.KMSKeyId.CMKNotEnabled`.
 * Modify while default encryption is off answers `InvalidDefaultEncryption.NotFound` (documented
 * code; its HTTP status, 403 here, is not).
 */

import { perAccountAlicloud } from './accounts.ts';
import { type Acs3Credential, Acs3Verifier, acs3Action, jsonAnswer, rpcError } from './acs3.ts';
import {
  type AccountDirectory,
  type Answer,
  EmulatedService,
  nextRequestId,
  type PerAccount,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface DefaultEncryption {
  encrypted: boolean;
  /** The key new disks get; the region's ECS service key after the first enable. */
  kmsKeyId?: string;
}

export interface KmsKeyRecord {
  enabled: boolean;
}

const ECS_VERSION = '2014-05-26';
const REGION = /^[a-z]{2}(-[a-z0-9]+){1,4}$/;

export class EcsState {
  private readonly regions = new Map<string, DefaultEncryption>();
  private readonly keys = new Map<string, Map<string, KmsKeyRecord>>();

  /** Sets a region's default encryption (unseeded regions start off, without a key). */
  seedRegion(region: string, value: DefaultEncryption): void {
    this.regions.set(region, { ...value });
  }

  /** Registers a KMS key in a region; Modify accepts only registered, enabled keys. */
  seedKey(region: string, keyId: string, record: KmsKeyRecord = { enabled: true }): void {
    const keys = this.keys.get(region) ?? new Map<string, KmsKeyRecord>();
    keys.set(keyId, { ...record });
    this.keys.set(region, keys);
  }

  key(region: string, keyId: string): KmsKeyRecord | undefined {
    return this.keys.get(region)?.get(keyId);
  }

  region(region: string): DefaultEncryption {
    let value = this.regions.get(region);
    if (!value) {
      value = { encrypted: false };
      this.regions.set(region, value);
    }
    return value;
  }

  /** The id ECS gives a region's service key (`alias/acs/ecs`). */
  serviceKeyId(region: string): string {
    const id = `ecs-service-key-${region}`;
    if (!this.key(region, id)) this.seedKey(region, id);
    return id;
  }
}

class EcsHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'Throttling.User' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly state: EcsState,
    credentials?: Acs3Credential[],
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action(ctx: RequestContext): string {
    return acs3Action(ctx);
  }

  isWrite(action: string): boolean {
    return [
      'EnableDiskEncryptionByDefault',
      'ModifyDiskDefaultKMSKeyId',
      'DisableDiskEncryptionByDefault',
      'ResetDiskDefaultKMSKeyId',
    ].includes(action);
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return rpcError(status, code, message, requestId, 'ecs.aliyuncs.com');
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    this.verifier.check(ctx);
    if (ctx.req.method !== 'POST' && ctx.req.method !== 'GET')
      throw new ServiceFailure(400, 'UnsupportedHTTPMethod', 'RPC takes GET or POST');
    if (ctx.req.headers['x-acs-version'] !== ECS_VERSION)
      throw new ServiceFailure(400, 'InvalidVersion', `x-acs-version must be ${ECS_VERSION}`);
    const query = ctx.url.searchParams;
    const region = query.get('RegionId');
    if (!region) throw new ServiceFailure(400, 'MissingRegionId', 'RegionId is mandatory for this action.');
    if (!REGION.test(region))
      throw new ServiceFailure(
        403,
        'InvalidParameter.RegionIdNotExists',
        'The specified region does not exists.',
      );
    log(region);
    const requestId = nextRequestId();
    const current = this.state.region(region);
    switch (action) {
      case 'DescribeDiskEncryptionByDefaultStatus':
        return jsonAnswer(200, { RequestId: requestId, Encrypted: current.encrypted }, requestId);
      case 'DescribeDiskDefaultKMSKeyId':
        return jsonAnswer(200, { RequestId: requestId, KMSKeyId: current.kmsKeyId ?? '' }, requestId);
      case 'EnableDiskEncryptionByDefault':
        current.encrypted = true;
        current.kmsKeyId ??= this.state.serviceKeyId(region);
        return jsonAnswer(200, { RequestId: requestId }, requestId);
      case 'DisableDiskEncryptionByDefault':
        current.encrypted = false;
        return jsonAnswer(200, { RequestId: requestId }, requestId);
      case 'ResetDiskDefaultKMSKeyId':
        // SDK doc comment: back to the service key; needs default encryption on.
        if (!current.encrypted)
          throw new ServiceFailure(
            403,
            'InvalidDefaultEncryption.NotFound',
            'Account-level default encryption is not enabled in this region.',
          );
        current.kmsKeyId = this.state.serviceKeyId(region);
        return jsonAnswer(200, { RequestId: requestId }, requestId);
      case 'ModifyDiskDefaultKMSKeyId': {
        const keyId = query.get('KMSKeyId');
        if (!keyId)
          throw new ServiceFailure(400, 'MissingKMSKeyId', 'KMSKeyId is mandatory for this action.');
        if (!current.encrypted)
          throw new ServiceFailure(
            403,
            'InvalidDefaultEncryption.NotFound',
            'Account-level default encryption is not enabled in this region.',
          );
        const key = this.state.key(region, keyId);
        if (!key)
          throw new ServiceFailure(
            403,
            'InvalidOperation.KMSKeyIdNotFound',
            `The specified KMSKeyId not found, ${keyId}.`,
          );
        if (!key.enabled)
          throw new ServiceFailure(
            400,
            'InvalidParameter.KMSKeyId.CMKNotEnabled',
            'The CMK needs to be enabled.',
          );
        current.kmsKeyId = keyId;
        return jsonAnswer(200, { RequestId: requestId }, requestId);
      }
      default:
        throw new ServiceFailure(404, 'InvalidAction.NotFound', `Specified api is not found: ${action}`);
    }
  }
}

export interface EcsEmulator {
  service: EmulatedService;
  url: string;
  state: EcsState;
  /** The state of each account (keys issued by Alibaba Cloud STS); `state` is the default account's. */
  states: PerAccount<EcsState>;
  stop(): Promise<void>;
}

/** Starts the ECS emulator on a loopback port; point `ALIBABA_CLOUD_ENDPOINT_ECS` at `url`. */
export async function startEcs(
  options: { credentials?: Acs3Credential[]; accounts?: AccountDirectory; port?: number } = {},
): Promise<EcsEmulator> {
  const state = new EcsState();
  const { handler, states } = perAccountAlicloud({
    accounts: options.accounts,
    credentials: options.credentials,
    state,
    makeState: () => new EcsState(),
    makeHandler: (s, credentials) => new EcsHandler(s, credentials),
    regionOf: (ctx) => ctx.url.searchParams.get('RegionId') ?? '',
  });
  const service = new EmulatedService('ecs', handler);
  const url = await service.start(options.port);
  return { service, url, state, states, stop: () => service.stop() };
}
