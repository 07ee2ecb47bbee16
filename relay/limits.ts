/** In-memory, bounded helpers: a fixed-window rate limiter and a TTL map with a size cap. */

export interface RateDecision {
    allowed: boolean;
    /** Seconds until the window resets (only meaningful when refused). */
    retryAfterSec: number;
}

/**
 * Fixed-window counter per key. `limit <= 0` disables it. Keeps at most `maxKeys` windows; when
 * full, expired windows are swept and then the oldest ones dropped.
 */
export class FixedWindowLimiter {
    private readonly windows = new Map<string, { start: number; count: number }>();

    constructor(
        private readonly limit: number,
        private readonly windowMs: number,
        private readonly maxKeys = 100_000,
    ) {}

    hit(key: string, now = Date.now()): RateDecision {
        if (this.limit <= 0) {
            return { allowed: true, retryAfterSec: 0 };
        }
        let w = this.windows.get(key);
        if (!w || now - w.start >= this.windowMs) {
            if (w) {
                this.windows.delete(key);
            }
            w = { start: now, count: 0 };
            this.makeRoom(now);
            this.windows.set(key, w);
        }
        w.count += 1;
        if (w.count > this.limit) {
            return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) };
        }
        return { allowed: true, retryAfterSec: 0 };
    }

    get size(): number {
        return this.windows.size;
    }

    private makeRoom(now: number): void {
        if (this.windows.size < this.maxKeys) {
            return;
        }
        for (const [k, w] of this.windows) {
            if (now - w.start >= this.windowMs) {
                this.windows.delete(k);
            }
        }
        while (this.windows.size >= this.maxKeys) {
            const oldest = this.windows.keys().next().value as string;
            this.windows.delete(oldest);
        }
    }
}

/** A Map with per-entry expiry and a size cap (oldest inserted entries are evicted first). */
export class BoundedTtlMap<K, V> {
    private readonly map = new Map<K, { value: V; expiresAt: number }>();

    constructor(
        private readonly maxEntries: number,
        private readonly ttlMs: number,
    ) {}

    get(key: K, now = Date.now()): V | undefined {
        const e = this.map.get(key);
        if (!e) {
            return undefined;
        }
        if (e.expiresAt <= now) {
            this.map.delete(key);
            return undefined;
        }
        return e.value;
    }

    set(key: K, value: V, now = Date.now(), ttlMs = this.ttlMs): void {
        this.map.delete(key);
        while (this.map.size >= this.maxEntries) {
            const oldest = this.map.keys().next().value as K;
            this.map.delete(oldest);
        }
        this.map.set(key, { value, expiresAt: now + ttlMs });
    }

    delete(key: K): boolean {
        return this.map.delete(key);
    }

    /** Remove and return the entry if present and fresh. */
    take(key: K, now = Date.now()): V | undefined {
        const v = this.get(key, now);
        if (v !== undefined) {
            this.map.delete(key);
        }
        return v;
    }

    sweep(now = Date.now()): void {
        for (const [k, e] of this.map) {
            if (e.expiresAt <= now) {
                this.map.delete(k);
            }
        }
    }

    clear(): void {
        this.map.clear();
    }

    get size(): number {
        return this.map.size;
    }
}
