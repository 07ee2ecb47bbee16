/**
 * The relay's calls out, with an undici Agent (keep-alive connections, at most as many per
 * upstream host as there are upstream slots) and an AbortSignal per attempt: Cleeng (`/roku/payment`,
 * `/android/payment`, JSON-RPC 3.0) and Roku Pay's validate-transaction.
 *
 * - At most `upstreamConcurrency` attempts are in flight per instance. An attempt waits up to
 *   `upstreamQueueMs` for a slot; the per-attempt timeout starts only once it has one. No slot in
 *   time → `busy` (the client gets 503 UPSTREAM_BUSY with Retry-After), nothing sent.
 * - Transient failures (5xx, 408, 429, timeouts, network errors, a 2xx that is not the documented
 *   success) are retried with capped exponential backoff; everything else is returned as is.
 * - A payment attempt whose outcome is unknown (timeout, cut connection, unexpected 2xx) is
 *   reported as `ambiguous`, so the caller keeps the receipt on record as "posting".
 * Nothing here logs URLs (the Roku one holds the partner API key), bodies or headers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { RelayConfig, RetryPolicy } from './config';
import type { LineLog as Logger } from './log';
import type { JsonRpcError } from './cleeng';

/** Backoff before retry number `n` (1-based): half fixed, half random, capped. */
export function backoffDelay(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
    const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
    return Math.round(exp / 2 + random() * (exp / 2));
}

/** A counting semaphore with a bounded wait (FIFO). */
export class Slots {
    private free: number;
    private readonly waiters: { resolve: (ok: boolean) => void; timer: NodeJS.Timeout }[] = [];

    constructor(size: number) {
        this.free = size;
    }

    /** True once a slot is held (call release()); false when none came free within `waitMs`. */
    acquire(waitMs: number): Promise<boolean> {
        if (this.free > 0) {
            this.free--;
            return Promise.resolve(true);
        }
        if (waitMs <= 0) {
            return Promise.resolve(false);
        }
        return new Promise((resolve) => {
            const w = {
                resolve,
                timer: setTimeout(() => {
                    const i = this.waiters.indexOf(w);
                    if (i >= 0) {
                        this.waiters.splice(i, 1);
                    }
                    resolve(false);
                }, waitMs),
            };
            this.waiters.push(w);
        });
    }

    release(): void {
        const next = this.waiters.shift();
        if (next) {
            clearTimeout(next.timer);
            next.resolve(true);
        } else {
            this.free++;
        }
    }

    get available(): number {
        return this.free;
    }
}

function isTransient(status: number): boolean {
    return status >= 500 || status === 429 || status === 408;
}

type Exchange = { kind: 'answer'; status: number; text: string } | { kind: 'failed'; reason: 'timeout' | 'network' | 'aborted' } | { kind: 'busy' };

export type PaymentOutcome =
    | { kind: 'accepted' }
    /** Cleeng answered with a non-transient error status. */
    | { kind: 'refused'; status: number }
    | { kind: 'unavailable'; reason: string; ambiguous: boolean }
    | { kind: 'busy'; ambiguous: boolean };

export type RpcOutcome<R> =
    | { kind: 'result'; result: R }
    | { kind: 'rpc-error'; error: JsonRpcError }
    | { kind: 'http-error'; status: number }
    | { kind: 'unavailable'; reason: string }
    | { kind: 'busy' };

export type RokuValidation = { kind: 'verified' } | { kind: 'refused'; reason: string } | { kind: 'unavailable'; reason: string } | { kind: 'busy' };

type Step<T> = { done: true; value: T } | { done: false; reason: string };

/**
 * The shared part of reading a JSON answer (JSON-RPC, Roku validation): busy and failed exchanges,
 * transient statuses and unreadable bodies are retried; another non-2xx status is final
 * (`onStatus`); otherwise the body's JSON object is handed on.
 */
function jsonObjectStep<T>(a: Exchange, onStatus: (status: number) => T): { busy: true } | Step<T> | { object: Record<string, unknown> } {
    if (a.kind === 'busy') {
        return { busy: true };
    }
    if (a.kind === 'failed') {
        return { done: false, reason: a.reason };
    }
    if (isTransient(a.status)) {
        return { done: false, reason: `status-${a.status}` };
    }
    if (a.status < 200 || a.status >= 300) {
        return { done: true, value: onStatus(a.status) };
    }
    let v: unknown;
    try {
        v = JSON.parse(a.text);
    } catch {
        return { done: false, reason: 'malformed' };
    }
    return typeof v === 'object' && v !== null ? { object: v as Record<string, unknown> } : { done: false, reason: 'malformed' };
}

/** Cleeng's documented success for a receipt: 200 with `{"message":"OK"}`. */
export function isCleengPaymentSuccess(status: number, text: string): boolean {
    if (status !== 200) {
        return false;
    }
    try {
        const v = JSON.parse(text) as unknown;
        return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { message?: unknown }).message === 'OK';
    } catch {
        return false;
    }
}

export class Upstream {
    private readonly slots: Slots;
    /** Keep-alive connections, as many per upstream host as there are slots, so an attempt that holds a slot never queues for a socket. */
    private readonly agent: Agent;
    private rpcId = 0;

    constructor(
        private readonly cfg: RelayConfig,
        private readonly signal: AbortSignal,
    ) {
        this.slots = new Slots(cfg.upstreamConcurrency);
        this.agent = new Agent({
            connections: cfg.upstreamConcurrency,
            pipelining: 1,
            keepAliveTimeout: 30_000,
            keepAliveMaxTimeout: 60_000,
            // Our own per-attempt timer (below) bounds every exchange; these only back it up.
            headersTimeout: cfg.upstreamTimeoutMs + 1_000,
            bodyTimeout: cfg.upstreamTimeoutMs + 1_000,
        });
    }

    /** Close the upstream connections (after in-flight attempts ended). */
    async close(): Promise<void> {
        await this.agent.destroy();
    }

    /** One exchange: a slot, then the request with its own timeout (from now, not from queueing). */
    private async exchange(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: string, onSend?: () => Promise<void>): Promise<Exchange> {
        if (!(await this.slots.acquire(this.cfg.upstreamQueueMs))) {
            return { kind: 'busy' };
        }
        try {
            if (this.signal.aborted) {
                return { kind: 'failed', reason: 'aborted' };
            }
            await onSend?.();
            // The attempt's own timeout starts here, once it holds a slot; shutdown aborts it too.
            // When the timer fires, the abort waits for one turn of the event loop's I/O phase: after
            // a stretch in which this process was too busy to read its sockets, an answer that
            // arrived in time is read first instead of being taken for a timeout (and posted again).
            // Once the answer's headers are in, the rest of it is bounded by the agent's bodyTimeout.
            const ac = new AbortController();
            let timedOut = false;
            let answered = false;
            const timer = setTimeout(() => {
                setImmediate(() => {
                    if (!answered) {
                        timedOut = true;
                        ac.abort();
                    }
                });
            }, this.cfg.upstreamTimeoutMs);
            const onShutdown = (): void => ac.abort();
            this.signal.addEventListener('abort', onShutdown, { once: true });
            try {
                const u = new URL(url);
                const res = await this.agent.request({ origin: u.origin, path: `${u.pathname}${u.search}`, method, headers, body, signal: ac.signal });
                answered = true;
                const text = await res.body.text();
                return { kind: 'answer', status: res.statusCode, text };
            } catch {
                return { kind: 'failed', reason: this.signal.aborted ? 'aborted' : timedOut ? 'timeout' : 'network' };
            } finally {
                clearTimeout(timer);
                this.signal.removeEventListener('abort', onShutdown);
            }
        } finally {
            this.slots.release();
        }
    }

    private async withRetry<T>(
        log: Logger,
        op: string,
        attempt: () => Promise<Step<T> | { busy: true }>,
    ): Promise<{ ok: true; value: T } | { ok: false; reason: string } | { ok: false; busy: true }> {
        const policy = this.cfg.retry;
        let reason = 'none';
        for (let n = 1; n <= policy.attempts; n++) {
            const r = await attempt();
            if ('busy' in r) {
                return { ok: false, busy: true };
            }
            if (r.done) {
                return { ok: true, value: r.value };
            }
            reason = r.reason;
            if (reason === 'aborted') {
                break;
            }
            if (n < policy.attempts) {
                const delayMs = backoffDelay(policy, n);
                log.warn({ op, attempt: n, reason, delayMs }, 'upstream retry');
                try {
                    await sleep(delayMs, undefined, { signal: this.signal });
                } catch {
                    return { ok: false, reason: 'aborted' };
                }
            }
        }
        return { ok: false, reason };
    }

    /**
     * POST a store receipt to Cleeng with the publisher token (Roku or Android shape). `onSend` runs
     * before the first byte leaves (the caller records the post as "posting"); if it throws, nothing
     * is sent.
     */
    async postPayment(url: string, body: object, requestId: string, op: string, log: Logger, onSend: () => Promise<void>): Promise<PaymentOutcome> {
        const text = JSON.stringify(body);
        const headers = {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'X-Publisher-Token': this.cfg.publisherToken,
            'X-Request-Id': requestId,
        };
        let ambiguous = false;
        let sent = false;
        const r = await this.withRetry<PaymentOutcome>(log, op, async () => {
            const a = await this.exchange('POST', url, headers, text, sent ? undefined : async () => {
                await onSend();
                sent = true;
            });
            if (a.kind === 'busy') {
                return { busy: true };
            }
            if (a.kind === 'failed') {
                ambiguous = true;
                return { done: false, reason: a.reason };
            }
            if (isCleengPaymentSuccess(a.status, a.text)) {
                return { done: true, value: { kind: 'accepted' } };
            }
            if (a.status >= 200 && a.status < 300) {
                ambiguous = true; // an answer Cleeng does not document: never taken for acceptance
                return { done: false, reason: 'unexpected-answer' };
            }
            if (isTransient(a.status)) {
                return { done: false, reason: `status-${a.status}` };
            }
            return { done: true, value: { kind: 'refused', status: a.status } };
        });
        if (r.ok) {
            return r.value;
        }
        return 'busy' in r ? { kind: 'busy', ambiguous } : { kind: 'unavailable', reason: r.reason, ambiguous };
    }

    /** One JSON-RPC 3.0 call, retried on transient failures. */
    async rpc<R>(method: string, params: Record<string, unknown>, requestId: string, log: Logger): Promise<RpcOutcome<R>> {
        const id = ++this.rpcId;
        const text = JSON.stringify({ method, params, jsonrpc: '2.0', id });
        const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': requestId };
        const r = await this.withRetry<RpcOutcome<R>>(log, `cleeng.${method}`, async () => {
            const j = jsonObjectStep<RpcOutcome<R>>(await this.exchange('POST', this.cfg.cleengJsonRpcUrl, headers, text), (status) => ({ kind: 'http-error', status }));
            if (!('object' in j)) {
                return j;
            }
            const v = j.object as { result?: unknown; error?: unknown };
            if (v.error && typeof v.error === 'object') {
                const e = v.error as { code?: unknown; message?: unknown };
                return { done: true, value: { kind: 'rpc-error', error: { code: typeof e.code === 'number' ? e.code : -1, message: String(e.message ?? '') } } };
            }
            if (v.result && typeof v.result === 'object') {
                return { done: true, value: { kind: 'result', result: v.result as R } };
            }
            return { done: false, reason: 'malformed' };
        });
        if (r.ok) {
            return r.value;
        }
        return 'busy' in r ? { kind: 'busy' } : { kind: 'unavailable', reason: r.reason };
    }

    /**
     * Roku Pay validate-transaction: verified only when Roku knows the transaction, reports no
     * error, says the customer is entitled, and the product matches the order.
     */
    async validateRokuTransaction(purchaseId: string, productCode: string, requestId: string, log: Logger): Promise<RokuValidation> {
        const key = this.cfg.rokuPartnerApiKey;
        if (!key) {
            return { kind: 'verified' };
        }
        const url = `${this.cfg.rokuValidateUrl}/listen/transaction-service.svc/validate-transaction/${encodeURIComponent(key)}/${encodeURIComponent(purchaseId)}`;
        const r = await this.withRetry<RokuValidation>(log, 'roku.validate-transaction', async () => {
            const a = await this.exchange('GET', url, { Accept: 'application/json', 'X-Request-Id': requestId });
            const j = jsonObjectStep<RokuValidation>(a, (status) => ({ kind: 'refused', reason: `status-${status}` }));
            return 'object' in j ? { done: true, value: judgeRokuValidation(j.object, purchaseId, productCode) } : j;
        });
        if (r.ok) {
            return r.value;
        }
        return 'busy' in r ? { kind: 'busy' } : { kind: 'unavailable', reason: r.reason };
    }
}

/** Decide on a validate-transaction answer (exported for tests). */
export function judgeRokuValidation(body: Record<string, unknown>, purchaseId: string, productCode: string): RokuValidation {
    const status = body.status;
    const statusOk = status === undefined || status === 0 || (typeof status === 'string' && /^(0|success)$/i.test(status));
    if (!statusOk) {
        return { kind: 'refused', reason: 'status' };
    }
    const code = body.errorCode;
    if (code !== undefined && code !== null && code !== 0 && code !== '' && code !== '0') {
        return { kind: 'refused', reason: 'error-code' };
    }
    if (body.isEntitled !== true) {
        return { kind: 'refused', reason: 'not-entitled' };
    }
    if (body.productId !== productCode) {
        return { kind: 'refused', reason: 'product' };
    }
    if (typeof body.transactionId === 'string' && body.transactionId.toLowerCase() !== purchaseId.toLowerCase()) {
        return { kind: 'refused', reason: 'transaction' };
    }
    return { kind: 'verified' };
}
