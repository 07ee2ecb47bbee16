/**
 * Relay configuration. `loadRelayConfigFromEnv` is the only place environment variables are read;
 * docs/relay.md lists each one.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { LogSink } from './log';

export type CleengEnv = 'sandbox' | 'production';

/** Default Cleeng endpoints (shared/notes/cleeng.md). Sandbox uses https where the host allows it. */
export const CLEENG_DEFAULT_URLS: Record<CleengEnv, { rokuPayment: string; jsonRpc: string; androidPayment: string }> = {
    production: {
        rokuPayment: 'https://cleeng.com/roku/payment',
        jsonRpc: 'https://api.cleeng.com/3.0/json-rpc',
        androidPayment: 'https://cleeng.com/android/payment',
    },
    sandbox: {
        rokuPayment: 'https://sandbox.cleeng.com/roku/payment',
        jsonRpc: 'https://sandbox.cleeng.com/api/3.0/json-rpc',
        androidPayment: 'https://sandbox.cleeng.com/android/payment',
    },
};

/** Roku Pay web services base (validate-transaction lives under /listen/transaction-service.svc). */
export const ROKU_DEFAULT_VALIDATE_URL = 'https://apipub.roku.com';

export interface RetryPolicy {
    /** Total attempts, first one included (≥ 1). */
    attempts: number;
    /** Backoff before retry n is min(maxDelayMs, baseDelayMs · 2^(n-1)), with jitter. */
    baseDelayMs: number;
    maxDelayMs: number;
}

export interface AttestationConfig {
    /** PEM certificate or PEM public key (text, or a path to a file). */
    cert: string;
    /** When set, the channel claim of the token must equal it (ROKU_CHANNEL_ID). */
    channelId?: string;
    channelClaim: string;
    skewSec: number;
    maxAgeSec: number;
    nonceTtlMs: number;
}

export interface RelayConfig {
    publisherToken: string;
    cleengEnv: CleengEnv;
    cleengRokuPaymentUrl: string;
    cleengAndroidPaymentUrl: string;
    cleengJsonRpcUrl: string;
    rokuPartnerApiKey?: string;
    rokuValidateUrl: string;
    port: number;
    host: string;
    /** `'*'`, a list of allowed origins, or `[]` for no CORS. */
    cors: '*' | string[];
    /**
     * Proxies (CIDRs or single addresses) whose X-Forwarded-For entries are believed. The client IP
     * is the rightmost address that is not one of them; empty = the socket's address.
     */
    trustedProxies: string[];
    /** Shared state (idempotency, locks, nonces, limits, customer tokens); unset = in-memory store. */
    redisUrl?: string;
    /** Explicitly one instance with the in-memory store (allowed in production only when set). */
    singleInstance: boolean;
    /**
     * Key for the keyed hashes (purchase owner, log references) and the check tokens. Every instance
     * must share it. Required in production; elsewhere derived from the publisher token.
     */
    secret: string;
    bodyLimitBytes: number;
    /** Per-attempt timeout, counted from the moment the attempt gets an upstream slot. */
    upstreamTimeoutMs: number;
    /** Upstream calls in flight at once per instance; more wait up to upstreamQueueMs, then 503. */
    upstreamConcurrency: number;
    upstreamQueueMs: number;
    /** How long a duplicate waits for the same purchase in flight elsewhere before 503 + Retry-After. */
    inflightWaitMs: number;
    /** How long Cleeng may take to process a queued receipt (used after a relay crash mid-post). */
    cleengGraceMs: number;
    retry: RetryPolicy;
    /** Retry-After (seconds) sent with 503 answers. */
    retryAfterSec: number;
    rateLimit: { windowMs: number; perIp: number; perEmail: number };
    idempotency: { maxEntries: number; ttlMs: number };
    customerTokenTtlMs: number;
    /** Lifetime of the check tokens returned with accepted receipts. */
    checkTokenTtlSec: number;
    attestation?: AttestationConfig;
    /** How long close()/SIGTERM waits for in-flight requests before cutting connections. */
    shutdownGraceMs: number;
    /** Where log lines go (default stdout). */
    logSink?: LogSink;
}

/** What callers of startRelay must give; everything else has a default. */
export type RelayConfigInput = Partial<Omit<RelayConfig, 'retry' | 'rateLimit' | 'idempotency' | 'attestation' | 'secret'>> & {
    publisherToken: string;
    secret?: string;
    retry?: Partial<RetryPolicy>;
    rateLimit?: Partial<RelayConfig['rateLimit']>;
    idempotency?: Partial<RelayConfig['idempotency']>;
    attestation?: Partial<AttestationConfig> & { cert: string };
};

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid relay configuration: ${problems.join('; ')}`);
    }
}

export function resolveRelayConfig(input: RelayConfigInput): RelayConfig {
    const problems: string[] = [];
    if (!input.publisherToken) {
        problems.push('CLEENG_PUBLISHER_TOKEN is required');
    }
    const env: CleengEnv = input.cleengEnv ?? 'sandbox';
    if (env !== 'sandbox' && env !== 'production') {
        problems.push('CLEENG_ENV must be sandbox or production');
    }
    const defaults = CLEENG_DEFAULT_URLS[env] ?? CLEENG_DEFAULT_URLS.sandbox;
    const cfg: RelayConfig = {
        publisherToken: input.publisherToken,
        cleengEnv: env,
        cleengRokuPaymentUrl: input.cleengRokuPaymentUrl ?? defaults.rokuPayment,
        cleengAndroidPaymentUrl: input.cleengAndroidPaymentUrl ?? defaults.androidPayment,
        cleengJsonRpcUrl: input.cleengJsonRpcUrl ?? defaults.jsonRpc,
        rokuPartnerApiKey: input.rokuPartnerApiKey || undefined,
        rokuValidateUrl: (input.rokuValidateUrl ?? ROKU_DEFAULT_VALIDATE_URL).replace(/\/+$/, ''),
        port: input.port ?? 8787,
        host: input.host ?? '127.0.0.1',
        cors: input.cors ?? [],
        trustedProxies: input.trustedProxies ?? [],
        redisUrl: input.redisUrl || undefined,
        singleInstance: input.singleInstance ?? false,
        secret: input.secret || createHmac('sha256', 'cleeng-relay-secret').update(input.publisherToken ?? '').digest('base64url'),
        bodyLimitBytes: input.bodyLimitBytes ?? 16 * 1024,
        upstreamTimeoutMs: input.upstreamTimeoutMs ?? 10_000,
        upstreamConcurrency: input.upstreamConcurrency ?? 64,
        upstreamQueueMs: input.upstreamQueueMs ?? 2_000,
        inflightWaitMs: input.inflightWaitMs ?? 5_000,
        cleengGraceMs: input.cleengGraceMs ?? 30_000,
        retry: {
            attempts: input.retry?.attempts ?? 4,
            baseDelayMs: input.retry?.baseDelayMs ?? 250,
            maxDelayMs: input.retry?.maxDelayMs ?? 4_000,
        },
        retryAfterSec: input.retryAfterSec ?? 5,
        rateLimit: {
            windowMs: input.rateLimit?.windowMs ?? 60_000,
            perIp: input.rateLimit?.perIp ?? 120,
            perEmail: input.rateLimit?.perEmail ?? 30,
        },
        idempotency: {
            maxEntries: input.idempotency?.maxEntries ?? 200_000,
            ttlMs: input.idempotency?.ttlMs ?? 30 * 24 * 3600_000,
        },
        customerTokenTtlMs: input.customerTokenTtlMs ?? 15 * 60_000,
        checkTokenTtlSec: input.checkTokenTtlSec ?? 400 * 24 * 3600,
        shutdownGraceMs: input.shutdownGraceMs ?? 10_000,
        logSink: input.logSink,
    };
    if (input.attestation) {
        cfg.attestation = {
            cert: input.attestation.cert,
            channelId: input.attestation.channelId || undefined,
            channelClaim: input.attestation.channelClaim ?? 'channelId',
            skewSec: input.attestation.skewSec ?? 60,
            maxAgeSec: input.attestation.maxAgeSec ?? 300,
            nonceTtlMs: input.attestation.nonceTtlMs ?? 120_000,
        };
    }
    for (const [name, url] of [
        ['CLEENG_ROKU_PAYMENT_URL', cfg.cleengRokuPaymentUrl],
        ['CLEENG_JSONRPC_URL', cfg.cleengJsonRpcUrl],
        ['ROKU_VALIDATE_URL', cfg.rokuValidateUrl],
    ] as const) {
        try {
            const u = new URL(url);
            if (u.protocol !== 'http:' && u.protocol !== 'https:') {
                problems.push(`${name} must be an http(s) URL`);
            }
        } catch {
            problems.push(`${name} must be a URL`);
        }
    }
    if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) {
        problems.push('RELAY_PORT must be 0-65535');
    }
    if (!Number.isInteger(cfg.retry.attempts) || cfg.retry.attempts < 1 || cfg.retry.attempts > 10) {
        problems.push('RELAY_RETRY_ATTEMPTS must be 1-10');
    }
    if (cfg.bodyLimitBytes < 256) {
        problems.push('RELAY_BODY_LIMIT_BYTES must be at least 256');
    }
    if (cfg.idempotency.ttlMs < 30 * 24 * 3600_000 && env === 'production') {
        problems.push('RELAY_IDEMPOTENCY_TTL_MS must be at least 30 days in production');
    }
    if (!Number.isInteger(cfg.upstreamConcurrency) || cfg.upstreamConcurrency < 1) {
        problems.push('RELAY_UPSTREAM_CONCURRENCY must be at least 1');
    }
    for (const p of cfg.trustedProxies) {
        if (!isTrustedProxyEntry(p)) {
            problems.push('RELAY_TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDRs');
            break;
        }
    }
    if (cfg.redisUrl) {
        try {
            const u = new URL(cfg.redisUrl);
            if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
                problems.push('REDIS_URL must be a redis:// or rediss:// URL');
            }
        } catch {
            problems.push('REDIS_URL must be a URL');
        }
    }
    if (env === 'production') {
        if (!cfg.redisUrl && !cfg.singleInstance) {
            problems.push('REDIS_URL is required in production (or RELAY_SINGLE_INSTANCE=true to run exactly one instance with the in-memory store)');
        }
        if (!input.secret || input.secret.length < 32) {
            problems.push('RELAY_SECRET (at least 32 characters, the same on every instance) is required in production');
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return cfg;
}

/** An IPv4/IPv6 address, or one with a /prefix. */
export function isTrustedProxyEntry(s: string): boolean {
    const [addr, prefix, ...rest] = s.split('/');
    if (rest.length > 0 || !addr) {
        return false;
    }
    const family = isIP(addr);
    if (family === 0) {
        return false;
    }
    if (prefix === undefined) {
        return true;
    }
    const n = Number(prefix);
    return /^\d{1,3}$/.test(prefix) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

function intVar(env: Record<string, string | undefined>, name: string, problems: string[]): number | undefined {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
        return undefined;
    }
    const n = Number(raw);
    if (!Number.isFinite(n) || !Number.isInteger(n) || n < 0) {
        problems.push(`${name} must be a non-negative integer`);
        return undefined;
    }
    return n;
}

/** Build the configuration from environment variables (see docs/relay.md). */
export function loadRelayConfigFromEnv(env: Record<string, string | undefined> = process.env): RelayConfig {
    const problems: string[] = [];
    if (/^(1|true|yes)$/i.test(env.RELAY_TRUST_PROXY ?? '')) {
        problems.push('RELAY_TRUST_PROXY is gone: list your proxies in RELAY_TRUSTED_PROXIES (CIDRs) instead');
    }
    const cleengEnv = (env.CLEENG_ENV || 'sandbox').trim().toLowerCase();
    if (cleengEnv !== 'sandbox' && cleengEnv !== 'production') {
        problems.push('CLEENG_ENV must be sandbox or production');
    }
    let cors: '*' | string[] = [];
    const corsRaw = (env.RELAY_CORS ?? '').trim();
    if (corsRaw === '*' || corsRaw === '1' || corsRaw.toLowerCase() === 'true') {
        cors = '*';
    } else if (corsRaw) {
        cors = corsRaw.split(',').map((s) => s.trim()).filter(Boolean);
    }
    const input: RelayConfigInput = {
        publisherToken: env.CLEENG_PUBLISHER_TOKEN ?? '',
        cleengEnv: cleengEnv === 'production' ? 'production' : 'sandbox',
        cleengRokuPaymentUrl: env.CLEENG_ROKU_PAYMENT_URL || undefined,
        cleengAndroidPaymentUrl: env.CLEENG_ANDROID_PAYMENT_URL || undefined,
        cleengJsonRpcUrl: env.CLEENG_JSONRPC_URL || undefined,
        rokuPartnerApiKey: env.ROKU_PARTNER_API_KEY || undefined,
        rokuValidateUrl: env.ROKU_VALIDATE_URL || undefined,
        port: intVar(env, 'RELAY_PORT', problems),
        host: env.RELAY_HOST || undefined,
        cors,
        trustedProxies: (env.RELAY_TRUSTED_PROXIES ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        redisUrl: env.REDIS_URL || undefined,
        singleInstance: /^(1|true|yes)$/i.test(env.RELAY_SINGLE_INSTANCE ?? ''),
        secret: env.RELAY_SECRET || undefined,
        bodyLimitBytes: intVar(env, 'RELAY_BODY_LIMIT_BYTES', problems),
        upstreamTimeoutMs: intVar(env, 'RELAY_UPSTREAM_TIMEOUT_MS', problems),
        upstreamConcurrency: intVar(env, 'RELAY_UPSTREAM_CONCURRENCY', problems),
        upstreamQueueMs: intVar(env, 'RELAY_UPSTREAM_QUEUE_MS', problems),
        inflightWaitMs: intVar(env, 'RELAY_INFLIGHT_WAIT_MS', problems),
        cleengGraceMs: intVar(env, 'RELAY_CLEENG_GRACE_MS', problems),
        checkTokenTtlSec: intVar(env, 'RELAY_CHECK_TOKEN_TTL_S', problems),
        retry: {
            attempts: intVar(env, 'RELAY_RETRY_ATTEMPTS', problems),
            baseDelayMs: intVar(env, 'RELAY_RETRY_BASE_MS', problems),
            maxDelayMs: intVar(env, 'RELAY_RETRY_MAX_MS', problems),
        },
        retryAfterSec: intVar(env, 'RELAY_RETRY_AFTER_S', problems),
        rateLimit: {
            windowMs: intVar(env, 'RELAY_RATE_WINDOW_MS', problems),
            perIp: intVar(env, 'RELAY_RATE_LIMIT_IP', problems),
            perEmail: intVar(env, 'RELAY_RATE_LIMIT_EMAIL', problems),
        },
        idempotency: {
            maxEntries: intVar(env, 'RELAY_IDEMPOTENCY_MAX', problems),
            ttlMs: intVar(env, 'RELAY_IDEMPOTENCY_TTL_MS', problems),
        },
        customerTokenTtlMs: intVar(env, 'RELAY_CUSTOMER_TOKEN_TTL_MS', problems),
        shutdownGraceMs: intVar(env, 'RELAY_SHUTDOWN_GRACE_MS', problems),
    };
    // Drop undefined leaves so resolveRelayConfig's defaults apply.
    for (const group of ['retry', 'rateLimit', 'idempotency'] as const) {
        const g = input[group] as Record<string, unknown>;
        for (const k of Object.keys(g)) {
            if (g[k] === undefined) {
                delete g[k];
            }
        }
    }
    for (const k of Object.keys(input) as (keyof RelayConfigInput)[]) {
        if (input[k] === undefined) {
            delete input[k];
        }
    }
    const cert = env.ROKU_ATTESTATION_CERT;
    if (cert && cert.trim()) {
        input.attestation = {
            cert,
            channelId: env.ROKU_CHANNEL_ID || undefined,
            channelClaim: env.ROKU_ATTESTATION_CHANNEL_CLAIM || undefined,
            skewSec: intVar(env, 'ROKU_ATTESTATION_SKEW_S', problems),
            maxAgeSec: intVar(env, 'ROKU_ATTESTATION_MAX_AGE_S', problems),
            nonceTtlMs: intVar(env, 'RELAY_NONCE_TTL_MS', problems),
        };
        for (const k of Object.keys(input.attestation) as (keyof AttestationConfig)[]) {
            if (input.attestation[k] === undefined) {
                delete input.attestation[k];
            }
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return resolveRelayConfig(input);
}
