/**
 * The relay's calls out: Cleeng (`/roku/payment`, `/android/payment`, JSON-RPC 3.0) and Roku Pay's
 * validate-transaction. Transient failures (5xx, 429, timeouts, network errors, unreadable 2xx
 * answers) are retried with capped exponential backoff; everything else is returned as is.
 * Nothing here logs URLs (the Roku one holds the partner API key), bodies or headers.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { RelayConfig, RetryPolicy } from './config';
import { httpRequest, IncomingAnswer, parseJson, sleep, UpstreamTimeoutError } from './http';
import type { Logger } from './log';
import type { CleengRokuPaymentRequest, JsonRpcError } from './contract';

type AttemptResult<T> = { done: true; value: T } | { done: false; reason: string };

export type RetryOutcome<T> = { ok: true; value: T; attempts: number } | { ok: false; reason: string; attempts: number };

/** Backoff before retry number `n` (1-based): half fixed, half random, capped. */
export function backoffDelay(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
    const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
    return Math.round(exp / 2 + random() * (exp / 2));
}

export async function withRetry<T>(
    policy: RetryPolicy,
    signal: AbortSignal | undefined,
    attempt: (n: number) => Promise<AttemptResult<T>>,
    onRetry?: (n: number, reason: string, delayMs: number) => void,
): Promise<RetryOutcome<T>> {
    let reason = 'none';
    for (let n = 1; n <= policy.attempts; n++) {
        let r: AttemptResult<T>;
        try {
            r = await attempt(n);
        } catch (e) {
            if (signal?.aborted) {
                return { ok: false, reason: 'aborted', attempts: n };
            }
            r = { done: false, reason: e instanceof UpstreamTimeoutError ? 'timeout' : 'network' };
        }
        if (r.done) {
            return { ok: true, value: r.value, attempts: n };
        }
        reason = r.reason;
        if (n < policy.attempts) {
            const delay = backoffDelay(policy, n);
            onRetry?.(n, reason, delay);
            try {
                await sleep(delay, signal);
            } catch {
                return { ok: false, reason: 'aborted', attempts: n };
            }
        }
    }
    return { ok: false, reason, attempts: policy.attempts };
}

function isTransient(status: number): boolean {
    return status >= 500 || status === 429 || status === 408;
}

export type PaymentOutcome =
    | { kind: 'accepted' }
    /** Cleeng answered with a non-transient error status. */
    | { kind: 'refused'; status: number }
    | { kind: 'unavailable'; reason: string };

export type RpcOutcome<R> =
    | { kind: 'result'; result: R }
    | { kind: 'rpc-error'; error: JsonRpcError }
    | { kind: 'http-error'; status: number }
    | { kind: 'unavailable'; reason: string };

export type RokuValidation =
    | { kind: 'verified' }
    | { kind: 'refused'; reason: string }
    | { kind: 'unavailable'; reason: string };

export class Upstream {
    readonly agents = {
        http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
        https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
    };
    private rpcId = 0;

    constructor(
        private readonly cfg: RelayConfig,
        private readonly logger: Logger,
        private readonly signal: AbortSignal,
    ) {}

    close(): void {
        this.agents.http.destroy();
        this.agents.https.destroy();
    }

    private retryLogger(op: string, requestId: string) {
        return (n: number, reason: string, delayMs: number): void =>
            this.logger.log('warn', 'upstream retry', { requestId, op, attempt: n, reason, delayMs });
    }

    private send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: string): Promise<IncomingAnswer> {
        return httpRequest({
            method,
            url,
            headers,
            body,
            timeoutMs: this.cfg.upstreamTimeoutMs,
            agents: this.agents,
            signal: this.signal,
        });
    }

    /** POST a store receipt to Cleeng with the publisher token (Roku or Android shape). */
    async postPayment(url: string, body: object, requestId: string, op: string): Promise<PaymentOutcome> {
        const text = JSON.stringify(body);
        const headers = {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'X-Publisher-Token': this.cfg.publisherToken,
            'X-Request-Id': requestId,
        };
        const r = await withRetry<PaymentOutcome>(
            this.cfg.retry,
            this.signal,
            async () => {
                const a = await this.send('POST', url, headers, text);
                if (a.status >= 200 && a.status < 300) {
                    const parsed = parseJson(a.text);
                    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) {
                        return { done: false, reason: 'malformed' };
                    }
                    return { done: true, value: { kind: 'accepted' } };
                }
                if (isTransient(a.status)) {
                    return { done: false, reason: `status-${a.status}` };
                }
                return { done: true, value: { kind: 'refused', status: a.status } };
            },
            this.retryLogger(op, requestId),
        );
        return r.ok ? r.value : { kind: 'unavailable', reason: r.reason };
    }

    postRokuPayment(body: CleengRokuPaymentRequest, requestId: string): Promise<PaymentOutcome> {
        return this.postPayment(this.cfg.cleengRokuPaymentUrl, body, requestId, 'cleeng.roku-payment');
    }

    /** One JSON-RPC 3.0 call, retried on transient failures. */
    async rpc<R>(method: string, params: Record<string, unknown>, requestId: string): Promise<RpcOutcome<R>> {
        const id = ++this.rpcId;
        const text = JSON.stringify({ method, params, jsonrpc: '2.0', id });
        const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': requestId };
        const r = await withRetry<RpcOutcome<R>>(
            this.cfg.retry,
            this.signal,
            async () => {
                const a = await this.send('POST', this.cfg.cleengJsonRpcUrl, headers, text);
                if (isTransient(a.status)) {
                    return { done: false, reason: `status-${a.status}` };
                }
                if (a.status < 200 || a.status >= 300) {
                    return { done: true, value: { kind: 'http-error', status: a.status } };
                }
                const parsed = parseJson(a.text);
                if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) {
                    return { done: false, reason: 'malformed' };
                }
                const v = parsed.value as { result?: unknown; error?: unknown };
                if (v.error && typeof v.error === 'object') {
                    const e = v.error as { code?: unknown; message?: unknown };
                    return {
                        done: true,
                        value: {
                            kind: 'rpc-error',
                            error: { code: typeof e.code === 'number' ? e.code : -1, message: String(e.message ?? '') },
                        },
                    };
                }
                if (v.result && typeof v.result === 'object') {
                    return { done: true, value: { kind: 'result', result: v.result as R } };
                }
                return { done: false, reason: 'malformed' };
            },
            this.retryLogger(`cleeng.${method}`, requestId),
        );
        return r.ok ? r.value : { kind: 'unavailable', reason: r.reason };
    }

    /**
     * Roku Pay validate-transaction: verified only when Roku knows the transaction, reports no
     * error, says the customer is entitled, and the product matches the order.
     */
    async validateRokuTransaction(purchaseId: string, productCode: string, requestId: string): Promise<RokuValidation> {
        const key = this.cfg.rokuPartnerApiKey;
        if (!key) {
            return { kind: 'verified' };
        }
        const url =
            `${this.cfg.rokuValidateUrl}/listen/transaction-service.svc/validate-transaction/` +
            `${encodeURIComponent(key)}/${encodeURIComponent(purchaseId)}`;
        const r = await withRetry<RokuValidation>(
            this.cfg.retry,
            this.signal,
            async () => {
                const a = await this.send('GET', url, { Accept: 'application/json' });
                if (isTransient(a.status)) {
                    return { done: false, reason: `status-${a.status}` };
                }
                if (a.status < 200 || a.status >= 300) {
                    return { done: true, value: { kind: 'refused', reason: `status-${a.status}` } };
                }
                const parsed = parseJson(a.text);
                if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) {
                    return { done: false, reason: 'malformed' };
                }
                return { done: true, value: judgeRokuValidation(parsed.value as Record<string, unknown>, purchaseId, productCode) };
            },
            this.retryLogger('roku.validate-transaction', requestId),
        );
        return r.ok ? r.value : { kind: 'unavailable', reason: r.reason };
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
