export { startRelay, RelayServer } from './server';
export type { RelayHandle } from './server';
export { loadRelayConfigFromEnv, resolveRelayConfig, ConfigError, CLEENG_DEFAULT_URLS, ROKU_DEFAULT_VALIDATE_URL } from './config';
export type { RelayConfig, RelayConfigInput, AttestationConfig, RetryPolicy, CleengEnv } from './config';
