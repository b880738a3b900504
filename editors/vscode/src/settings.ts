// The `missions.*` settings as the server reads them: missions.toml's shape and key names
// (`roles.worker.base_url`, `limits.max_turns`), so one deserializer serves both. Only values
// the person set are sent, so missions.toml keeps every key the settings leave alone.

export const ROLES = ['orchestrator', 'worker', 'validator'] as const;

/** setting key (under `missions.roles.<role>.`) → missions.toml key */
export const ROLE_KEYS: Record<string, string> = {
  provider: 'provider',
  model: 'model',
  baseUrl: 'base_url',
  apiKeyEnv: 'api_key_env',
  command: 'command',
};

/** setting key (under `missions.limits.`) → missions.toml key */
export const LIMIT_KEYS: Record<string, string> = {
  maxParallelWorkers: 'max_parallel_workers',
  maxValidationRounds: 'max_validation_rounds',
  maxTurns: 'max_turns',
  maxTokensPerMission: 'max_tokens_per_mission',
  maxCost: 'max_cost',
  commandTimeoutS: 'command_timeout_s',
  sessionTimeoutS: 'session_timeout_s',
  firstByteTimeoutS: 'first_byte_timeout_s',
  streamIdleTimeoutS: 'stream_idle_timeout_s',
  serviceStartTimeoutS: 'service_start_timeout_s',
};

/** Reads a setting under `missions.`; undefined when the person did not set it at any level. */
export type ExplicitSetting = (key: string) => unknown;

export interface ServerSettings {
  roles?: Partial<Record<(typeof ROLES)[number], Record<string, unknown>>>;
  limits?: Record<string, unknown>;
}

export function serverSettings(explicit: ExplicitSetting): ServerSettings {
  const out: ServerSettings = {};
  for (const role of ROLES) {
    for (const [settingKey, tomlKey] of Object.entries(ROLE_KEYS)) {
      const value = explicit(`roles.${role}.${settingKey}`);
      if (value === undefined || value === '') continue;
      out.roles ??= {};
      (out.roles[role] ??= {})[tomlKey] = value;
    }
  }
  for (const [settingKey, tomlKey] of Object.entries(LIMIT_KEYS)) {
    const value = explicit(`limits.${settingKey}`);
    if (value === undefined) continue;
    (out.limits ??= {})[tomlKey] = value;
  }
  return out;
}

/**
 * The answer to one `workspace/configuration` item: `missions` gets the whole object,
 * `missions.roles`, `missions.limits.max_turns` and the like the part they name.
 */
export function configurationItem(settings: ServerSettings, section: string | undefined): unknown {
  if (section === undefined || section === 'missions') return settings;
  if (!section.startsWith('missions.')) return null;
  let value: unknown = settings;
  for (const part of section.slice('missions.'.length).split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value ?? null;
}
