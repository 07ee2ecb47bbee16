/**
 * The channel's runtime configuration, written at build time to pkg:/config/channel.json from
 * environment variables (or an untracked .env). Nothing here is read from files in git.
 *
 * CHANNEL_ENV               local | sandbox | production            (default local)
 * CLEENG_MODE               relay | direct                          (default relay)
 * RELAY_URL                 base URL of the receipt relay            (default http://127.0.0.1:8787 for local)
 * CLEENG_API_URL            base of Cleeng's REST API (direct mode: POST {CLEENG_API_URL}/roku/payment)
 * CLEENG_JSONRPC_URL        Cleeng JSON-RPC 3.0 endpoint (direct mode)
 * CLEENG_PUBLISHER_TOKEN    publisher token (direct mode only; refused in production builds)
 * CLEENG_TIMEOUT_MS         per-request timeout in the channel      (default 10000)
 * OFFER_OVERRIDES           JSON {"roku-code": "S123456789_US"} for products that break the "_"->"-" rule
 *
 * An empty variable counts as not set (a copied .env.example has every name, all empty). The
 * document's shape, bounds and offer rule are the contract's (contract/channel-config.schema.json);
 * the result is checked against that schema before it is returned.
 */
import { CHANNEL_CONFIG_SCHEMA, isOfferId, validateChannelConfig, type ChannelConfig } from '../../contract/generated';

export type { ChannelConfig } from '../../contract/generated';
export type ChannelEnv = ChannelConfig['environment'];
export type CleengMode = ChannelConfig['cleeng']['mode'];

const CLEENG = CHANNEL_CONFIG_SCHEMA.properties.cleeng.properties;
const ENVIRONMENTS: readonly string[] = CHANNEL_CONFIG_SCHEMA.properties.environment.enum;
const MODES: readonly string[] = CLEENG.mode.enum;
const TIMEOUT = CLEENG.timeoutMs;

export class ConfigError extends Error {}

const DEFAULTS: Record<ChannelEnv, { relayUrl: string; apiUrl: string; jsonRpcUrl: string }> = {
    local: { relayUrl: 'http://127.0.0.1:8787', apiUrl: 'http://127.0.0.1:8787', jsonRpcUrl: 'http://127.0.0.1:8787/3.0/json-rpc' },
    sandbox: { relayUrl: '', apiUrl: 'https://sandbox.cleeng.com', jsonRpcUrl: 'https://sandbox.cleeng.com/api/3.0/json-rpc' },
    production: { relayUrl: '', apiUrl: 'https://cleeng.com', jsonRpcUrl: 'https://api.cleeng.com/3.0/json-rpc' }
};

function trimSlash(url: string): string {
    return url.replace(/\/+$/, '');
}

function checkUrl(name: string, value: string): void {
    if (value && !/^https?:\/\/[^\s]+$/.test(value)) {
        throw new ConfigError(`${name} must be an http(s) URL, not "${value}"`);
    }
}

/** Builds the channel config from the environment. `target` is the build target. */
export function channelConfigFromEnv(rawEnv: NodeJS.ProcessEnv, target: 'prod' | 'test' | 'e2e'): ChannelConfig {
    // Empty means not set.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v !== ''));
    const environment = (env.CHANNEL_ENV ?? CHANNEL_CONFIG_SCHEMA.properties.environment.default) as ChannelEnv;
    if (!ENVIRONMENTS.includes(environment)) {
        throw new ConfigError(`CHANNEL_ENV must be ${ENVIRONMENTS.join(', ')}, not "${environment}"`);
    }
    const mode = (env.CLEENG_MODE ?? CLEENG.mode.default) as CleengMode;
    if (!MODES.includes(mode)) {
        throw new ConfigError(`CLEENG_MODE must be ${MODES.join(' or ')}, not "${mode}"`);
    }
    if (mode === 'direct' && (target === 'prod' || environment === 'production')) {
        throw new ConfigError(
            'CLEENG_MODE=direct is refused for a production build: it would put the Cleeng publisher token inside the channel package, ' +
                'where anyone with the package can read it (Cleeng says the token must never be public). Use CLEENG_MODE=relay with RELAY_URL, ' +
                'or use direct mode only in a sandbox test build (npm run build:test with CHANNEL_ENV=sandbox).'
        );
    }
    const d = DEFAULTS[environment];
    const relayUrl = trimSlash(env.RELAY_URL ?? d.relayUrl);
    const apiUrl = trimSlash(env.CLEENG_API_URL ?? d.apiUrl);
    const jsonRpcUrl = env.CLEENG_JSONRPC_URL ?? d.jsonRpcUrl;
    checkUrl('RELAY_URL', relayUrl);
    checkUrl('CLEENG_API_URL', apiUrl);
    checkUrl('CLEENG_JSONRPC_URL', jsonRpcUrl);
    if (mode === 'relay' && !relayUrl) {
        throw new ConfigError(`RELAY_URL is required for CLEENG_MODE=relay in the ${environment} environment (the URL of your receipt relay, see docs/relay.md)`);
    }
    if (environment === 'production' && relayUrl.startsWith('http://')) {
        throw new ConfigError('RELAY_URL must use https in the production environment');
    }
    const publisherToken = mode === 'direct' ? env.CLEENG_PUBLISHER_TOKEN ?? '' : '';
    if (mode === 'direct' && !publisherToken) {
        throw new ConfigError('CLEENG_MODE=direct needs CLEENG_PUBLISHER_TOKEN (sandbox token, test builds only)');
    }
    const timeoutMs = Number(env.CLEENG_TIMEOUT_MS ?? TIMEOUT.default);
    if (!Number.isInteger(timeoutMs) || timeoutMs < TIMEOUT.minimum || timeoutMs > TIMEOUT.maximum) {
        throw new ConfigError(`CLEENG_TIMEOUT_MS must be a whole number of milliseconds between ${TIMEOUT.minimum} and ${TIMEOUT.maximum}`);
    }
    let overrides: Record<string, string> = {};
    if (env.OFFER_OVERRIDES) {
        try {
            overrides = JSON.parse(env.OFFER_OVERRIDES) as Record<string, string>;
        } catch {
            throw new ConfigError('OFFER_OVERRIDES must be JSON like {"roku-code": "S123456789_US"}');
        }
        for (const [code, offerId] of Object.entries(overrides)) {
            if (!isOfferId(offerId)) {
                throw new ConfigError(`OFFER_OVERRIDES maps ${code} to "${String(offerId)}", which is not a Cleeng offer ID (like S123456789_US)`);
            }
        }
    }
    const config: ChannelConfig = { environment, cleeng: { mode, relayUrl, apiUrl, jsonRpcUrl, publisherToken, timeoutMs }, offers: { overrides } };
    const checked = validateChannelConfig(config);
    if (!checked.ok) {
        const problems = Object.entries(checked.fields).map(([k, v]) => `${k} ${v}`);
        throw new ConfigError(`the channel config does not match contract/channel-config.schema.json: ${problems.join('; ')}`);
    }
    return config;
}
