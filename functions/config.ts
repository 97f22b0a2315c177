/**
 * The whole config document, composed from every function's section (each manifest's `config`,
 * from its folder's config.ts) by #core/config `composeConfig`: what the CLI (`--config`,
 * `$ATREST_CONFIG`), `atrest init`, the infra (synth, deploy, stacks), the demo and the tests
 * read. A deployed handler composes from its own section only (its handler.ts / fc.ts).
 */
import { type ComposedConfig, type ConfigComposer, composeConfig } from '#core/config';
import { MANIFESTS } from './manifests.ts';
import type * as registry from './registry.ts';

for (const m of MANIFESTS)
  if (m.config.cloud !== m.cloud || m.config.section !== m.section)
    throw new Error(`${m.id}: manifest section ${m.cloud}.${m.section} is not its config's`);

/** Every function's section, typed: the document as the CLI and the infra see it. */
export type Config = ComposedConfig<(typeof registry)[keyof typeof registry]['config']>;

const composer: ConfigComposer<Config> = composeConfig(
  MANIFESTS.map((m) => m.config),
) as ConfigComposer<Config>;

/** Validates a parsed JSON value; throws ConfigError naming every bad field. */
export const parseConfig = composer.parseConfig;
/** Parses JSON text; a syntax error is a ConfigError too, with the source named. */
export const parseConfigJson = composer.parseConfigJson;
/** `$ATREST_CONFIG_JSON`, required, read as a whole document. */
export const configFromEnv = composer.configFromEnv;
/** The document's schema (fuzzing derives inputs from it), built on first use. */
export const configSchema = composer.schema;
