/**
 * The relay's shared state: receipt records (idempotency, owner, in-flight lock), nonces, the
 * customer-token cache and the rate limiters. `RedisStore` is the one for several instances and for
 * restarts; `MemoryStore` is the embedded default for one process (`npm start`, most tests).
 *
 * A receipt record, keyed by store transaction (`roku:<purchaseId>`):
 *   state    claimed  (a request holds the lock and has not posted yet)
 *            posting  (a post to Cleeng was started and its outcome is not known)
 *            accepted (Cleeng answered its documented success)
 *   owner    keyed hash of the email it was first delivered for
 *   offer    the offer it was delivered for
 *   lock     `<instance>:<random>` of the request working on it; a lock whose instance stopped
 *            renewing its heartbeat is dead and may be taken over
 *   postedAt when the last post whose outcome is unknown started (ms)
 */
import { createHash, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export type ClaimResult =
    | { kind: 'accepted'; owner: string; offer: string }
    /** Another live request (here or on another instance) holds the lock. */
    | { kind: 'busy' }
    /** A post of unknown outcome exists for another owner or offer. */
    | { kind: 'conflict'; owner: string; offer: string }
    /** The lock is ours. `postedAt` is set when an earlier post's outcome is unknown. */
    | { kind: 'claimed'; postedAt?: number };

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterSec: number };

export class StoreUnavailableError extends Error {
    constructor(cause?: unknown) {
        super('shared store unavailable', { cause });
    }
}

export interface RelayStore {
    readonly kind: 'memory' | 'redis';
    /** This instance's ID (part of every lock it takes). */
    readonly instanceId: string;
    start(): Promise<void>;
    close(): Promise<void>;
    ready(): boolean;
    claim(key: string, owner: string, offer: string, lock: string): Promise<ClaimResult>;
    /** The post is about to leave: its outcome is unknown from here until settled. */
    markPosting(key: string, lock: string, now: number): Promise<void>;
    accept(key: string, lock: string, now: number): Promise<void>;
    /** Give the record up: `keepPosting` keeps an unknown-outcome post on record, otherwise it is forgotten. */
    release(key: string, lock: string, keepPosting: boolean): Promise<void>;
    issueNonce(nonce: string, ttlMs: number): Promise<void>;
    /** True once for an issued, unexpired nonce. */
    consumeNonce(nonce: string): Promise<boolean>;
    getCustomerToken(ownerKey: string): Promise<string | undefined>;
    setCustomerToken(ownerKey: string, token: string, ttlMs: number): Promise<void>;
    deleteCustomerToken(ownerKey: string): Promise<void>;
    limiter(name: string, points: number, windowMs: number): Limiter;
}

export interface Limiter {
    hit(key: string): Promise<LimitDecision>;
}

export function newLockId(instanceId: string): string {
    return `${instanceId}:${randomBytes(9).toString('base64url')}`;
}

function windowSec(windowMs: number): number {
    return Math.max(1, Math.ceil(windowMs / 1000));
}

function limiterFrom(rl: RateLimiterAbstract | undefined): Limiter {
    return {
        async hit(key) {
            if (!rl) {
                return { allowed: true };
            }
            try {
                await rl.consume(key);
                return { allowed: true };
            } catch (e) {
                if (e instanceof RateLimiterRes) {
                    return { allowed: false, retryAfterSec: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
                }
                throw new StoreUnavailableError(e);
            }
        },
    };
}

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/**
 * A map whose entries all share one lifetime, so insertion order is expiry order: expired entries
 * are dropped from the front and a full map drops its oldest entry, each in O(1).
 */
export class TtlCache<V> {
    private readonly map = new Map<string, { value: V; expiresAt: number }>();

    constructor(private readonly maxEntries: number) {}

    get(key: string, now = Date.now()): V | undefined {
        this.expire(now);
        const e = this.map.get(key);
        return e && e.expiresAt > now ? e.value : undefined;
    }

    set(key: string, value: V, ttlMs: number, now = Date.now()): void {
        this.expire(now);
        this.map.delete(key);
        if (this.map.size >= this.maxEntries) {
            this.map.delete(this.map.keys().next().value as string);
        }
        this.map.set(key, { value, expiresAt: now + ttlMs });
    }

    delete(key: string): boolean {
        return this.map.delete(key);
    }

    get size(): number {
        return this.map.size;
    }

    /** Drop expired entries from the front (amortised O(1) per insert). */
    private expire(now: number): void {
        for (let i = 0; i < 8; i++) {
            const first = this.map.entries().next();
            if (first.done || first.value[1].expiresAt > now) {
                return;
            }
            this.map.delete(first.value[0]);
        }
    }
}

interface MemRecord {
    state: 'claimed' | 'posting' | 'accepted';
    owner: string;
    offer: string;
    lock?: string;
    postedAt?: number;
}

export class MemoryStore implements RelayStore {
    readonly kind = 'memory' as const;
    readonly instanceId = randomBytes(6).toString('hex');
    private readonly records: TtlCache<MemRecord>;
    private readonly nonces = new TtlCache<true>(200_000);
    private readonly tokens = new TtlCache<string>(50_000);

    constructor(
        private readonly recordTtlMs: number,
        maxRecords: number,
    ) {
        this.records = new TtlCache(maxRecords);
    }

    async start(): Promise<void> {}
    async close(): Promise<void> {}
    ready(): boolean {
        return true;
    }

    async claim(key: string, owner: string, offer: string, lock: string): Promise<ClaimResult> {
        const r = this.records.get(key);
        if (r?.state === 'accepted') {
            return { kind: 'accepted', owner: r.owner, offer: r.offer };
        }
        if (r?.lock) {
            return { kind: 'busy' }; // one process: every lock holder is alive
        }
        if (r?.state === 'posting' && (r.owner !== owner || r.offer !== offer)) {
            return { kind: 'conflict', owner: r.owner, offer: r.offer };
        }
        const next: MemRecord = r ? { ...r, lock } : { state: 'claimed', owner, offer, lock };
        this.records.set(key, next, this.recordTtlMs);
        return r?.state === 'posting' ? { kind: 'claimed', postedAt: r.postedAt } : { kind: 'claimed' };
    }

    async markPosting(key: string, lock: string, now: number): Promise<void> {
        const r = this.records.get(key);
        if (r && r.lock === lock) {
            r.state = 'posting';
            r.postedAt = now;
        }
    }

    async accept(key: string, lock: string): Promise<void> {
        const r = this.records.get(key);
        if (r) {
            this.records.set(key, { state: 'accepted', owner: r.owner, offer: r.offer, lock: r.lock === lock ? undefined : r.lock }, this.recordTtlMs);
        }
    }

    async release(key: string, lock: string, keepPosting: boolean): Promise<void> {
        const r = this.records.get(key);
        if (!r || r.lock !== lock) {
            return;
        }
        if (keepPosting && r.state === 'posting') {
            r.lock = undefined;
        } else {
            this.records.delete(key);
        }
    }

    async issueNonce(nonce: string, ttlMs: number): Promise<void> {
        this.nonces.set(nonce, true, ttlMs);
    }

    async consumeNonce(nonce: string): Promise<boolean> {
        const ok = this.nonces.get(nonce) === true;
        this.nonces.delete(nonce);
        return ok;
    }

    async getCustomerToken(ownerKey: string): Promise<string | undefined> {
        return this.tokens.get(ownerKey);
    }

    async setCustomerToken(ownerKey: string, token: string, ttlMs: number): Promise<void> {
        this.tokens.set(ownerKey, token, ttlMs);
    }

    async deleteCustomerToken(ownerKey: string): Promise<void> {
        this.tokens.delete(ownerKey);
    }

    limiter(name: string, points: number, windowMs: number): Limiter {
        // rate-limiter-flexible's memory store expires each key with its own timer: O(1) per key.
        return limiterFrom(points > 0 ? new RateLimiterMemory({ keyPrefix: name, points, duration: windowSec(windowMs) }) : undefined);
    }
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

const PREFIX = 'relay:';
const INSTANCE_PREFIX = `${PREFIX}inst:`;

/** Atomic claim (see the header comment for the record's fields). */
const CLAIM = `
local r = redis.call('HMGET', KEYS[1], 'state', 'owner', 'offer', 'lock', 'postedAt')
local state, owner, offer, lock, postedAt = r[1], r[2], r[3], r[4], r[5]
if state == 'accepted' then return {'accepted', owner, offer} end
if lock then
  local inst = string.match(lock, '^([^:]+):')
  if inst and redis.call('EXISTS', ARGV[4] .. inst) == 1 then return {'busy'} end
end
if state == 'posting' and (owner ~= ARGV[1] or offer ~= ARGV[2]) then return {'conflict', owner, offer} end
if state == 'posting' then
  redis.call('HSET', KEYS[1], 'lock', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'state', 'claimed', 'owner', ARGV[1], 'offer', ARGV[2], 'lock', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if state == 'posting' then return {'claimed', postedAt or '0'} end
return {'claimed'}
`;

const MARK_POSTING = `
if redis.call('HGET', KEYS[1], 'lock') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'posting', 'postedAt', ARGV[2])
  return 1
end
return 0
`;

const ACCEPT = `
redis.call('HSET', KEYS[1], 'state', 'accepted', 'acceptedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'postedAt')
if redis.call('HGET', KEYS[1], 'lock') == ARGV[1] then redis.call('HDEL', KEYS[1], 'lock') end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

const RELEASE = `
if redis.call('HGET', KEYS[1], 'lock') ~= ARGV[1] then return 0 end
if ARGV[2] == '1' and redis.call('HGET', KEYS[1], 'state') == 'posting' then
  redis.call('HDEL', KEYS[1], 'lock')
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

const SCRIPT_SHA = new Map<string, string>();

export interface RedisStoreOptions {
    url: string;
    recordTtlMs: number;
    /** The heartbeat key lives this long; it is renewed every third of it. */
    instanceTtlMs?: number;
    onStateChange?: (ready: boolean) => void;
}

export class RedisStore implements RelayStore {
    readonly kind = 'redis' as const;
    readonly instanceId = randomBytes(6).toString('hex');
    private readonly client;
    private readonly instanceTtlMs: number;
    private heartbeat?: NodeJS.Timeout;
    private wasReady = false;

    constructor(private readonly opts: RedisStoreOptions) {
        this.instanceTtlMs = opts.instanceTtlMs ?? 4_000;
        this.client = createClient({
            url: opts.url,
            // Commands fail at once while disconnected (the request answers 503) instead of queueing.
            disableOfflineQueue: true,
            socket: {
                connectTimeout: 2_000,
                reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1_000),
            },
        });
        this.client.on('error', () => this.note());
        this.client.on('ready', () => {
            this.note();
            void this.beat();
        });
        this.client.on('end', () => this.note());
    }

    private note(): void {
        const now = this.ready();
        if (now !== this.wasReady) {
            this.wasReady = now;
            this.opts.onStateChange?.(now);
        }
    }

    async start(): Promise<void> {
        // Resolves once connected; a Redis that is down at start-up is retried in the background
        // (requests answer 503 STORE_UNAVAILABLE meanwhile).
        const connected = this.client.connect().then(
            () => true,
            () => false,
        );
        await Promise.race([connected, new Promise((r) => setTimeout(r, 3_000).unref())]);
        this.heartbeat = setInterval(() => void this.beat(), Math.max(200, Math.floor(this.instanceTtlMs / 3)));
        this.heartbeat.unref();
        await this.beat();
    }

    private async beat(): Promise<void> {
        if (!this.client.isReady) {
            return;
        }
        try {
            await this.client.set(`${INSTANCE_PREFIX}${this.instanceId}`, '1', { PX: this.instanceTtlMs });
        } catch {
            // The next beat retries; until then other instances may take over our locks.
        }
    }

    async close(): Promise<void> {
        clearInterval(this.heartbeat);
        try {
            if (this.client.isReady) {
                await this.client.del(`${INSTANCE_PREFIX}${this.instanceId}`);
            }
        } catch {
            // closing anyway
        }
        try {
            this.client.destroy();
        } catch {
            // already closed
        }
    }

    ready(): boolean {
        return this.client.isReady;
    }

    private async run<T>(fn: () => Promise<T>): Promise<T> {
        if (!this.client.isReady) {
            throw new StoreUnavailableError();
        }
        try {
            return await fn();
        } catch (e) {
            throw new StoreUnavailableError(e);
        }
    }

    /** EVALSHA (the script's text travels once per Redis start), falling back to EVAL when Redis does not know it. */
    private eval(script: string, keys: string[], args: string[]): Promise<unknown> {
        let sha = SCRIPT_SHA.get(script);
        if (!sha) {
            sha = createHash('sha1').update(script).digest('hex');
            SCRIPT_SHA.set(script, sha);
        }
        const options = { keys, arguments: args };
        return this.run(() =>
            this.client.evalSha(sha, options).catch((e: unknown) => {
                if (e instanceof Error && e.message.startsWith('NOSCRIPT')) {
                    return this.client.eval(script, options);
                }
                throw e;
            }),
        );
    }

    async claim(key: string, owner: string, offer: string, lock: string): Promise<ClaimResult> {
        const r = (await this.eval(CLAIM, [`${PREFIX}r:${key}`], [owner, offer, lock, INSTANCE_PREFIX, String(this.opts.recordTtlMs)])) as string[];
        switch (r[0]) {
            case 'accepted':
                return { kind: 'accepted', owner: r[1] ?? '', offer: r[2] ?? '' };
            case 'busy':
                return { kind: 'busy' };
            case 'conflict':
                return { kind: 'conflict', owner: r[1] ?? '', offer: r[2] ?? '' };
            default:
                return r.length > 1 ? { kind: 'claimed', postedAt: Number(r[1]) } : { kind: 'claimed' };
        }
    }

    async markPosting(key: string, lock: string, now: number): Promise<void> {
        await this.eval(MARK_POSTING, [`${PREFIX}r:${key}`], [lock, String(now)]);
    }

    async accept(key: string, lock: string, now: number): Promise<void> {
        await this.eval(ACCEPT, [`${PREFIX}r:${key}`], [lock, String(now), String(this.opts.recordTtlMs)]);
    }

    async release(key: string, lock: string, keepPosting: boolean): Promise<void> {
        await this.eval(RELEASE, [`${PREFIX}r:${key}`], [lock, keepPosting ? '1' : '0']);
    }

    async issueNonce(nonce: string, ttlMs: number): Promise<void> {
        await this.run(() => this.client.set(`${PREFIX}n:${nonce}`, '1', { PX: ttlMs }));
    }

    async consumeNonce(nonce: string): Promise<boolean> {
        return (await this.run(() => this.client.del(`${PREFIX}n:${nonce}`))) === 1;
    }

    async getCustomerToken(ownerKey: string): Promise<string | undefined> {
        return (await this.run(() => this.client.get(`${PREFIX}ct:${ownerKey}`))) ?? undefined;
    }

    async setCustomerToken(ownerKey: string, token: string, ttlMs: number): Promise<void> {
        await this.run(() => this.client.set(`${PREFIX}ct:${ownerKey}`, token, { PX: ttlMs }));
    }

    async deleteCustomerToken(ownerKey: string): Promise<void> {
        await this.run(() => this.client.del(`${PREFIX}ct:${ownerKey}`));
    }

    limiter(name: string, points: number, windowMs: number): Limiter {
        if (points <= 0) {
            return limiterFrom(undefined);
        }
        const rl = new RateLimiterRedis({
            storeClient: this.client,
            useRedisPackage: true,
            rejectIfRedisNotReady: true,
            keyPrefix: `${PREFIX}rl:${name}`,
            points,
            duration: windowSec(windowMs),
        });
        return limiterFrom(rl);
    }
}
