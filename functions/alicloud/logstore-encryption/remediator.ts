/**
 * alicloud.logstore-encryption — every new SLS logstore gets the configured encryption.
 *
 * Trigger: ActionTrail `CreateLogStore` (API call, console operation or service event; the names
 * are in events.ts), as an EventBridge CloudEvent, a bare trail record, or a record of an
 * SLS-trigger range on the trail path — SLS is not among the services whose ActionTrail events
 * reach EventBridge, so the trail path is the one that delivers. Routing keys only on the `type`
 * suffix (`:ActionTrail:<eventType>`) and `data.eventName`, never on `source`.
 * Tamper event (`enforce: "always"`, the default): `UpdateLogStoreEncryption` with `enable: false`
 * restores `enable: true` (only `enable` can change once set), at most `maxRestoresPerHour` times
 * an hour; one with `enable: true` (atrest's own restore) ends `ignored` without a read.
 * Reads: SLS `GetLogStore` (`encrypt_conf`). Writes: SLS `UpdateLogStoreEncryption`.
 * Sweep: `ListProject` + `ListLogStores`.
 *
 * Resource id (the outcome's `resource`): `<project>/<logstore>`, the form ActionTrail uses in
 * `referencedResources["ACS::SLS::LogStore"]`; the exclude patterns match against it too.
 *
 * SLS encryption is immutable once set: only `enable` may change afterwards, never the type or
 * the key. A logstore already encrypted differently is therefore `failed` with
 * `EncryptionImmutable` and never written.
 */

import type { Config } from '#core/config';
import { excludedBy } from '#core/config';
import { InvalidError, type RemediationError } from '#core/errors';
import type {
  Desire,
  EventFacts,
  ListPage,
  Observed,
  Parsed,
  Remediator,
  Target,
  Verdict,
} from '#core/remediator';
import { listAll } from '#core/sweep';
import { setsConfiguredState, tamperOf } from '#core/tamper';
import { withObservedAt } from '#core/validation';
import { type AlicloudCredentials, credentialsFrom, perRegion } from '../clients.ts';
import { type ActionTrailCloudEvent, isActionTrailCall, parseTrailCall, pick } from '../events.ts';
import {
  classifySlsError,
  createSlsClient,
  SLS_LOGSTORE,
  SLS_PROJECT,
  type SlsClient,
  type SlsEncryptConf,
  type SlsProjectSummary,
} from '../sls.ts';
import { type LogstoreEncryptionConfig, logstoreEncryptionConfig } from './config.ts';
import { TRAIL_EVENTS } from './events.ts';

export const FUNCTION_ID = 'alicloud.logstore-encryption' as const;
const PAGE = 500;

export interface LogstoreTarget extends Target {
  project: string;
  logstore: string;
}

export interface UserCmk {
  keyId: string;
  roleArn: string;
  regionId: string;
}

export interface LogstoreDesired {
  encryptType: string;
  /** Bring-your-own-key; absent means the SLS service key. */
  userCmkInfo?: UserCmk;
}

export interface LogstoreState {
  /** Absent: the logstore has never been given an encryption configuration. */
  encryptConf?: SlsEncryptConf;
}

export interface LogstoreRemediatorOptions {
  /** Asked before every request (FC's STS credentials rotate). Default: the standard environment variables. */
  credentials?: () => AlicloudCredentials;
  /** Endpoint overrides are read here. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Account for sweep targets when ListProject does not name the owner. */
  account?: string;
  /** Builds the SLS client for a region; tests may substitute it. Default: createSlsClient. */
  client?: (region: string) => SlsClient;
}

// ------------------------------------------------------------------------------------------------
// parse
// ------------------------------------------------------------------------------------------------

const _facts = (event: unknown): EventFacts => {
  if (typeof event !== 'object' || event === null) return {};
  const id = (event as { id?: unknown }).id;
  return typeof id === 'string' && id.length <= 256 ? { eventId: id } : {};
};

const asName = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : undefined;

/** Project and logstore from requestParameters (casing varies) or referencedResources ("p/ls"). */
function namesOf(event: ActionTrailCloudEvent): { project?: string; logstore?: string } {
  const params = event.data.requestParameters;
  let project = asName(pick(params, 'ProjectName', 'projectName', 'project', 'Project'));
  let logstore = asName(
    pick(params, 'logstoreName', 'LogstoreName', 'logStoreName', 'LogStoreName', 'logstore'),
  );
  const referenced = event.data.referencedResources?.['ACS::SLS::LogStore']?.[0];
  if ((project === undefined || logstore === undefined) && referenced !== undefined) {
    const parts = referenced.split('/');
    // "p/ls" names both. A bare name is the logstore alone: taking it for the project would read a
    // project that does not exist and end a real logstore `gone`.
    if (parts.length === 2) {
      project ??= asName(parts[0]);
      logstore ??= asName(parts[1]);
    } else if (parts.length === 1) logstore ??= asName(parts[0]);
  }
  return { ...(project !== undefined ? { project } : {}), ...(logstore !== undefined ? { logstore } : {}) };
}

/** `enable` of an UpdateLogStoreEncryption call: a boolean, or its string form; undefined when absent. */
function enableOf(params: Record<string, unknown> | null | undefined): boolean | undefined {
  const value = pick(params, 'enable', 'Enable') ?? pick(asRecord(pick(params, 'body')), 'enable', 'Enable');
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

export function parseEvent(event: unknown, config?: Config): Parsed<LogstoreTarget> {
  const call = parseTrailCall(event, TRAIL_EVENTS);
  if (call.kind !== 'call') return call;
  const { event: e, region, account, known } = call;
  const { project, logstore } = namesOf(e);
  if (project === undefined || logstore === undefined)
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason:
        logstore !== undefined
          ? `the project of logstore ${JSON.stringify(logstore.slice(0, 64))} cannot be determined: no project in requestParameters and referencedResources["ACS::SLS::LogStore"] is not "<project>/<logstore>"`
          : 'no project and logstore name in the event',
      ...known,
    };
  if (!SLS_PROJECT.test(project) || !SLS_LOGSTORE.test(logstore))
    return {
      kind: 'rejected',
      code: 'InvalidEvent',
      reason: `not a valid SLS project/logstore name: ${JSON.stringify(`${project}/${logstore}`.slice(0, 140))}`,
      ...known,
    };
  const resource = `${project}/${logstore}`;
  const name = call.apiName;
  if (name === 'UpdateLogStoreEncryption') {
    // Switching encryption on is what atrest itself does; only `enable: false` (or an unreadable
    // request, which one read settles) weakens it.
    if (enableOf(e.data.requestParameters) === true)
      return { kind: 'ignored', reason: setsConfiguredState(name, 'enable: true'), ...known, resource };
    const gate = tamperOf(
      logstoreEncryptionConfig.of(config),
      name,
      'alicloud.logstoreEncryption',
      call.callId,
    );
    if ('ignored' in gate) return { kind: 'ignored', reason: gate.ignored, ...known, resource };
    return {
      kind: 'targets',
      // A tamper observed after the last completed run is new work; its redelivery is not.
      targets: [
        {
          eventId: e.id,
          account,
          region,
          resource,
          project,
          logstore,
          ...withObservedAt(call.observedAt),
          tamper: gate.tamper,
        },
      ],
    };
  }
  return {
    kind: 'targets',
    targets: [
      // When the call happened: redeliveries are one piece of work, a later re-creation is new work.
      { eventId: e.id, account, region, resource, project, logstore, ...withObservedAt(call.observedAt) },
    ],
  };
}

// ------------------------------------------------------------------------------------------------
// desire / evaluate (pure)
// ------------------------------------------------------------------------------------------------

export function desireFor(target: LogstoreTarget, config: Config): Desire<LogstoreDesired> {
  const section: LogstoreEncryptionConfig | undefined = logstoreEncryptionConfig.of(config);
  if (!section) return { kind: 'off' };
  const pattern = excludedBy(target.resource, section.exclude);
  if (pattern !== undefined)
    return { kind: 'excluded', reason: `${target.resource} matches exclude ${pattern}` };
  // A KMS key lives in one region: a per-region key wins over the default one.
  const userCmkInfo = section.byRegion?.[target.region] ?? section.userCmkInfo;
  const desired: LogstoreDesired = {
    encryptType: section.encryptType,
    ...(userCmkInfo ? { userCmkInfo } : {}),
  };
  return {
    kind: 'desired',
    desired,
    key: userCmkInfo ? `${section.encryptType}:${userCmkInfo.keyId}` : section.encryptType,
  };
}

/**
 * Same key means the same CMK (and region when both sides name one) or, for the service key, no
 * CMK on either side. The role ARN is how SLS reaches the key, not the key itself, so it is not compared.
 */
function sameKey(conf: SlsEncryptConf, desired: LogstoreDesired): boolean {
  const have = conf.userCmkInfo?.keyId;
  const want = desired.userCmkInfo;
  if (want === undefined) return have === undefined;
  if (have !== want.keyId) return false;
  const region = conf.userCmkInfo?.regionId;
  return region === undefined || region === want.regionId;
}

export function evaluateState(state: LogstoreState, desired: LogstoreDesired): Verdict {
  const conf = state.encryptConf;
  if (conf?.encryptType === undefined) return { kind: 'write' };
  if (conf.encryptType === desired.encryptType && sameKey(conf, desired))
    return conf.enable ? { kind: 'compliant' } : { kind: 'write' };
  const have = `${conf.encryptType}${conf.userCmkInfo?.keyId ? ` with key ${conf.userCmkInfo.keyId}` : ' with the service key'}`;
  const want = `${desired.encryptType}${desired.userCmkInfo ? ` with key ${desired.userCmkInfo.keyId}` : ' with the service key'}`;
  return {
    kind: 'blocked',
    code: 'EncryptionImmutable',
    message: `logstore is encrypted ${have}; SLS cannot change encryption type or key once set (wanted ${want})`,
  };
}

// ------------------------------------------------------------------------------------------------
// the remediator
// ------------------------------------------------------------------------------------------------

export function createRemediator(
  options: LogstoreRemediatorOptions = {},
): Remediator<LogstoreTarget, LogstoreDesired, LogstoreState> {
  const credentials = options.credentials ?? (() => credentialsFrom(undefined, options.env));
  const clientFor = perRegion(
    (region): SlsClient =>
      options.client?.(region) ??
      createSlsClient({ region, credentials, ...(options.env ? { env: options.env } : {}) }),
  );

  // The projects page the cursor points into, kept between pages (one ListProject per 500
  // projects, not one per logstore page).
  let projectsPage:
    | { region: string; offset: number; projects: SlsProjectSummary[]; total: number }
    | undefined;

  /**
   * One page of logstores of one project. The cursor is `<project offset>.<index in that page>.<logstore offset>`:
   * SLS lists projects (500 a page), then each project's logstores (500 a page).
   */
  async function listPage(
    region: string,
    _config: Config,
    cursor?: string,
  ): Promise<ListPage<LogstoreTarget>> {
    const at = parseCursor(cursor);
    const client = clientFor(region);
    if (projectsPage?.region !== region || projectsPage.offset !== at.projects) {
      const { projects, total } = await client.listProjects({ offset: at.projects, size: PAGE });
      projectsPage = { region, offset: at.projects, projects, total };
    }
    const { projects, total } = projectsPage;
    const nextProject = (): string | undefined => {
      if (at.index + 1 < projects.length) return `${at.projects}.${at.index + 1}.0`;
      const offset = at.projects + projects.length;
      return projects.length === 0 || offset >= total ? undefined : `${offset}.0.0`;
    };
    const project = projects[at.index];
    if (project === undefined) {
      const next =
        projects.length === 0 || at.projects + projects.length >= total
          ? undefined
          : `${at.projects + projects.length}.0.0`;
      return { targets: [], ...(next ? { next } : {}) };
    }
    if (
      !SLS_PROJECT.test(project.projectName) ||
      (project.region !== undefined && project.region !== region)
    ) {
      const next = nextProject();
      return { targets: [], ...(next ? { next } : {}) };
    }
    const account = project.owner ?? options.account ?? '';
    const page = await client.listLogStores(project.projectName, { offset: at.logstores, size: PAGE });
    const targets: LogstoreTarget[] = [];
    for (const logstore of page.logstores) {
      if (!SLS_LOGSTORE.test(logstore)) continue;
      const resource = `${project.projectName}/${logstore}`;
      targets.push({
        eventId: `sweep:${resource}`,
        account,
        region,
        resource,
        project: project.projectName,
        logstore,
      });
    }
    const more = page.logstores.length > 0 && at.logstores + page.logstores.length < page.total;
    const next = more ? `${at.projects}.${at.index}.${at.logstores + page.logstores.length}` : nextProject();
    return { targets, ...(next ? { next } : {}) };
  }

  return {
    id: FUNCTION_ID,
    owns: (event) => isActionTrailCall(event, TRAIL_EVENTS),
    parse: (event, config) => parseEvent(event, config),
    desire: desireFor,
    evaluate: (state, desired) => evaluateState(state, desired),
    classify: (error): RemediationError => classifySlsError(error),

    async read(target): Promise<Observed<LogstoreState>> {
      const logstore = await clientFor(target.region).getLogStore(target.project, target.logstore);
      return { kind: 'found', state: logstore.encryptConf ? { encryptConf: logstore.encryptConf } : {} };
    },

    async apply(target, desired, state) {
      // evaluate() only asks for a write when there is no configuration, or when it is this very
      // configuration switched off: re-enabling repeats its own (immutable) type and key.
      const existing = state.encryptConf?.encryptType !== undefined ? state.encryptConf : undefined;
      const cmk = existing ? existing.userCmkInfo : desired.userCmkInfo;
      await clientFor(target.region).updateLogStoreEncryption(target.project, target.logstore, {
        enable: true,
        encryptType: existing?.encryptType ?? desired.encryptType,
        ...(cmk?.keyId && cmk.roleArn && cmk.regionId
          ? { userCmkInfo: { keyId: cmk.keyId, roleArn: cmk.roleArn, regionId: cmk.regionId } }
          : {}),
      });
    },

    listPage,
    list: listAll(listPage),
  };
}

/** `<project offset>.<index>.<logstore offset>`; anything else is a cursor we never wrote. */
function parseCursor(cursor: string | undefined): { projects: number; index: number; logstores: number } {
  if (cursor === undefined) return { projects: 0, index: 0, logstores: 0 };
  const match = /^(\d{1,9})\.(\d{1,4})\.(\d{1,9})$/.exec(cursor);
  if (match === null)
    throw new InvalidError(`not a logstore listing cursor: ${JSON.stringify(cursor.slice(0, 64))}`, {
      code: 'InvalidCursor',
    });
  return { projects: Number(match[1]), index: Number(match[2]), logstores: Number(match[3]) };
}
