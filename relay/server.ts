/**
 * The receipt relay: holds Cleeng's publisher token so the Roku channel never does.
 * Routes: POST /v1/roku/receipts, POST /v1/entitlements/check, POST /v1/nonce, GET /healthz,
 * POST /v1/android/receipts. See docs/relay.md.
 */
import * as http from 'node:http';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { RelayConfig, RelayConfigInput, resolveRelayConfig } from './config';
import {
    CleengAndroidPaymentRequest,
    EntitlementCheckResponse,
    GenerateCustomerTokenResult,
    GetAccessStatusResult,
    NonceResponse,
    ReceiptAccepted,
    ReceiptRequest,
    RelayErrorCode,
    relayError,
    toCleengPayment,
    validateEntitlementCheck,
    validateJsonBody,
    Validation,
    CleengRpcCode,
    offerIdToRokuProductCode,
    ReceiptRoute,
    ROKU_RECEIPTS,
    ANDROID_RECEIPTS,
    receiptAccepted,
} from './contract';
import { BodyTooLargeError, corsHeaders, isJsonContentType, parseJson, readBody, requestIdFor, sendJson } from './http';
import { createLogger, Logger, stdoutSink } from './log';
import { BoundedTtlMap, FixedWindowLimiter } from './limits';
import { AttestationPolicy, loadAttestationKey, NonceStore, verifyAttestation } from './attestation';
import { PaymentOutcome, Upstream } from './upstream';

export interface RelayHandle {
    url: string;
    port: number;
    config: RelayConfig;
    /** Stop accepting, let in-flight requests finish (up to shutdownGraceMs), then cut the rest. */
    close(): Promise<void>;
}

/** What a receipt submission ends in; shared by coalesced duplicates. */
interface Outcome {
    status: number;
    code?: RelayErrorCode;
    retryAfter?: boolean;
    /** Safe detail for the log line (never sent to the client). */
    detail?: string;
}

interface Ctx {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    requestId: string;
    ip: string;
    /** Extra safe fields for this request's log line. */
    logFields: Record<string, string | number | boolean>;
}

const ROUTES: Record<string, string[]> = {
    '/healthz': ['GET'],
    '/v1/nonce': ['POST'],
    '/v1/roku/receipts': ['POST'],
    '/v1/android/receipts': ['POST'],
    '/v1/entitlements/check': ['POST'],
};

function sha256(s: string): string {
    return createHash('sha256').update(s).digest('hex');
}

export class RelayServer {
    readonly config: RelayConfig;
    private readonly logger: Logger;
    private readonly server: http.Server;
    private readonly abort = new AbortController();
    private readonly upstream: Upstream;
    private readonly ipLimiter: FixedWindowLimiter;
    private readonly emailLimiter: FixedWindowLimiter;
    private readonly accepted: BoundedTtlMap<string, string>;
    private readonly inflightReceipts = new Map<string, { fingerprint: string; promise: Promise<Outcome> }>();
    private readonly customerTokens: BoundedTtlMap<string, string>;
    private readonly nonces: NonceStore;
    private readonly attestation?: AttestationPolicy;
    private readonly sweeper: NodeJS.Timeout;
    private inflight = 0;
    private shuttingDown = false;
    private closing?: Promise<void>;
    private idleWaiters: (() => void)[] = [];

    constructor(input: RelayConfigInput | RelayConfig) {
        this.config = resolveRelayConfig(input as RelayConfigInput);
        const c = this.config;
        // Every in-flight upstream call listens on this one signal (to be cut at shutdown).
        setMaxListeners(0, this.abort.signal);
        this.logger = createLogger(c.logSink ?? stdoutSink, [c.publisherToken, c.rokuPartnerApiKey ?? ''].filter(Boolean));
        this.upstream = new Upstream(c, this.logger, this.abort.signal);
        this.ipLimiter = new FixedWindowLimiter(c.rateLimit.perIp, c.rateLimit.windowMs);
        this.emailLimiter = new FixedWindowLimiter(c.rateLimit.perEmail, c.rateLimit.windowMs);
        this.accepted = new BoundedTtlMap(c.idempotency.maxEntries, c.idempotency.ttlMs);
        this.customerTokens = new BoundedTtlMap(10_000, c.customerTokenTtlMs);
        this.nonces = new NonceStore(c.attestation?.nonceTtlMs ?? 120_000);
        if (c.attestation) {
            this.attestation = {
                key: loadAttestationKey(c.attestation.cert),
                nonces: this.nonces,
                channelId: c.attestation.channelId,
                channelClaim: c.attestation.channelClaim,
                skewSec: c.attestation.skewSec,
                maxAgeSec: c.attestation.maxAgeSec,
            };
        }
        this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
            void this.handle(req, res);
        });
        this.server.keepAliveTimeout = 5_000;
        this.sweeper = setInterval(() => {
            this.nonces.sweep();
            this.accepted.sweep();
            this.customerTokens.sweep();
        }, 60_000);
        this.sweeper.unref();
    }

    listen(): Promise<RelayHandle> {
        return new Promise((resolve, reject) => {
            const onError = (e: Error): void => reject(e);
            this.server.once('error', onError);
            this.server.listen(this.config.port, this.config.host, () => {
                this.server.off('error', onError);
                const addr = this.server.address() as AddressInfo;
                const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
                const url = `http://${host}:${addr.port}`;
                this.logger.log('info', 'relay listening', {
                    url,
                    cleengEnv: this.config.cleengEnv,
                    rokuValidation: Boolean(this.config.rokuPartnerApiKey),
                    attestation: Boolean(this.attestation),
                    cors: this.config.cors === '*' ? '*' : this.config.cors.length > 0,
                });
                resolve({ url, port: addr.port, config: this.config, close: () => this.close() });
            });
        });
    }

    close(): Promise<void> {
        if (this.closing) {
            return this.closing;
        }
        this.shuttingDown = true;
        this.closing = (async () => {
            const closed = new Promise<void>((r) => this.server.close(() => r()));
            this.server.closeIdleConnections();
            if (this.inflight > 0) {
                let timer: NodeJS.Timeout | undefined;
                await Promise.race([
                    new Promise<void>((r) => this.idleWaiters.push(r)),
                    new Promise<void>((r) => {
                        timer = setTimeout(r, this.config.shutdownGraceMs);
                        timer.unref();
                    }),
                ]);
                clearTimeout(timer);
            }
            this.abort.abort();
            this.server.closeAllConnections();
            clearInterval(this.sweeper);
            this.upstream.close();
            await closed;
            this.logger.log('info', 'relay stopped');
        })();
        return this.closing;
    }

    // -----------------------------------------------------------------------------------------

    private clientIp(req: http.IncomingMessage): string {
        if (this.config.trustProxy) {
            const xff = req.headers['x-forwarded-for'];
            const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
            if (first) {
                return first;
            }
        }
        return req.socket.remoteAddress ?? 'unknown';
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const started = process.hrtime.bigint();
        this.inflight++;
        const ctx: Ctx = { req, res, requestId: requestIdFor(req), ip: this.clientIp(req), logFields: {} };
        const path = (req.url ?? '/').split('?')[0]!;
        res.setHeader('X-Request-Id', ctx.requestId);
        for (const [k, v] of Object.entries(corsHeaders(req, this.config.cors))) {
            res.setHeader(k, v);
        }
        if (this.shuttingDown) {
            res.setHeader('Connection', 'close');
        }
        res.on('close', () => {
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            this.logger.log('info', 'request', {
                requestId: ctx.requestId,
                method: req.method,
                path: ROUTES[path] ? path : '(other)',
                status: res.statusCode,
                ms: Math.round(ms * 10) / 10,
                ...ctx.logFields,
            });
            this.inflight--;
            if (this.inflight === 0 && this.idleWaiters.length > 0) {
                const waiters = this.idleWaiters;
                this.idleWaiters = [];
                waiters.forEach((w) => w());
                this.server.closeIdleConnections();
            }
        });
        try {
            await this.route(ctx, path);
        } catch {
            ctx.logFields.error = 'internal';
            this.fail(ctx, 500, 'INTERNAL');
        }
    }

    private fail(ctx: Ctx, status: number, code: RelayErrorCode, extra: { fields?: Record<string, string>; retryAfterSec?: number } = {}): void {
        const headers: Record<string, string> = {};
        if (extra.retryAfterSec !== undefined) {
            headers['Retry-After'] = String(extra.retryAfterSec);
        }
        ctx.logFields.code = code;
        sendJson(ctx.res, status, relayError(code, ctx.requestId, extra.fields), headers);
    }

    private async route(ctx: Ctx, path: string): Promise<void> {
        const method = ctx.req.method ?? 'GET';
        const allowed = ROUTES[path];
        if (method === 'OPTIONS') {
            ctx.res.writeHead(204, { 'Content-Length': '0' });
            ctx.res.end();
            return;
        }
        if (!allowed) {
            this.fail(ctx, 404, 'NOT_FOUND');
            return;
        }
        if (!allowed.includes(method)) {
            ctx.res.setHeader('Allow', [...allowed, 'OPTIONS'].join(', '));
            this.fail(ctx, 405, 'METHOD_NOT_ALLOWED');
            return;
        }
        if (path === '/healthz') {
            sendJson(ctx.res, 200, { ok: true });
            return;
        }
        if (this.shuttingDown) {
            this.fail(ctx, 503, 'SHUTTING_DOWN', { retryAfterSec: this.config.retryAfterSec });
            return;
        }
        const ipDecision = this.ipLimiter.hit(ctx.ip);
        if (!ipDecision.allowed) {
            ctx.logFields.limit = 'ip';
            this.fail(ctx, 429, 'RATE_LIMITED', { retryAfterSec: ipDecision.retryAfterSec });
            return;
        }
        switch (path) {
            case '/v1/nonce':
                return this.nonce(ctx);
            case '/v1/roku/receipts':
                return this.rokuReceipt(ctx);
            case '/v1/android/receipts':
                return this.androidReceipt(ctx);
            case '/v1/entitlements/check':
                return this.entitlementCheck(ctx);
        }
    }

    /**
     * Read, parse and validate a JSON body, then count it against its email's limit; on failure the
     * answer has been sent and undefined returned.
     */
    private async validRequest<T extends { customerEmail: string }>(ctx: Ctx, validate: (body: unknown) => Validation<T>): Promise<T | undefined> {
        if (!isJsonContentType(ctx.req.headers['content-type'])) {
            this.fail(ctx, 400, 'INVALID_REQUEST', { fields: { 'content-type': 'must be application/json' } });
            ctx.req.resume();
            return undefined;
        }
        let buf: Buffer;
        try {
            buf = await readBody(ctx.req, this.config.bodyLimitBytes);
        } catch (e) {
            if (e instanceof BodyTooLargeError) {
                ctx.res.setHeader('Connection', 'close');
                this.fail(ctx, 413, 'PAYLOAD_TOO_LARGE');
            } else {
                this.fail(ctx, 400, 'INVALID_REQUEST', { fields: { body: 'could not be read' } });
            }
            return undefined;
        }
        const v = validateJsonBody(parseJson(buf), validate);
        if (!v.ok) {
            this.fail(ctx, 400, 'INVALID_REQUEST', { fields: v.fields });
            return undefined;
        }
        return this.limitEmail(ctx, v.value.customerEmail) ? v.value : undefined;
    }

    private limitEmail(ctx: Ctx, email: string): boolean {
        const d = this.emailLimiter.hit(sha256(email.trim().toLowerCase()));
        if (!d.allowed) {
            ctx.logFields.limit = 'email';
            this.fail(ctx, 429, 'RATE_LIMITED', { retryAfterSec: d.retryAfterSec });
            return false;
        }
        return true;
    }

    private nonce(ctx: Ctx): void {
        ctx.req.resume();
        const issued = this.nonces.issue();
        const body: NonceResponse = { nonce: issued.nonce, expiresAt: issued.expiresAt };
        sendJson(ctx.res, 200, body);
    }

    private async rokuReceipt(ctx: Ctx): Promise<void> {
        const receipt = await this.validRequest(ctx, ROKU_RECEIPTS.validate);
        if (!receipt) {
            return;
        }
        if (this.attestation) {
            const a = verifyAttestation(receipt.attestation, this.attestation);
            if (!a.ok) {
                ctx.logFields.attestation = a.reason;
                this.fail(ctx, 401, 'ATTESTATION_INVALID');
                return;
            }
            ctx.logFields.attestation = 'ok';
        }
        const fingerprint = [receipt.customerEmail.trim().toLowerCase(), receipt.offerId, receipt.order.code];
        await this.submitReceipt(ctx, ROKU_RECEIPTS, receipt, fingerprint, () => this.forwardRoku(receipt, ctx.requestId));
    }

    private async androidReceipt(ctx: Ctx): Promise<void> {
        const receipt = await this.validRequest(ctx, ANDROID_RECEIPTS.validate);
        if (!receipt) {
            return;
        }
        const fingerprint = [receipt.customerEmail.trim().toLowerCase(), receipt.offerId];
        await this.submitReceipt(ctx, ANDROID_RECEIPTS, receipt, fingerprint, () => this.forwardAndroid(receipt, ctx.requestId));
    }

    /** Forwards a receipt once per store transaction (see `once`) and answers with the outcome. */
    private async submitReceipt<T extends { customerEmail: string; offerId: string }>(
        ctx: Ctx,
        route: ReceiptRoute<T>,
        receipt: T,
        fingerprint: string[],
        forward: () => Promise<Outcome>,
    ): Promise<void> {
        const outcome = await this.once(`${route.store}:${route.transactionId(receipt)}`, sha256(JSON.stringify(fingerprint)), ctx, forward);
        this.sendOutcome(ctx, outcome, receiptAccepted(route, receipt, ctx.requestId));
    }

    /**
     * Idempotency by store transaction: an accepted key with the same customer/offer answers 200
     * from memory; a key already in flight is awaited (one upstream post for concurrent
     * duplicates). A different customer for the same key is forwarded (Cleeng moves the purchase).
     */
    private async once(key: string, fingerprint: string, ctx: Ctx, run: () => Promise<Outcome>): Promise<Outcome> {
        for (;;) {
            if (this.accepted.get(key) === fingerprint) {
                ctx.logFields.idempotent = 'repeat';
                return { status: 200 };
            }
            const running = this.inflightReceipts.get(key);
            if (running) {
                const out = await running.promise;
                if (running.fingerprint === fingerprint) {
                    ctx.logFields.idempotent = 'coalesced';
                    return out;
                }
                continue;
            }
            const promise = run()
                .catch((): Outcome => ({ status: 500, code: 'INTERNAL', detail: 'internal' }))
                .then((out) => {
                    if (out.status === 200) {
                        this.accepted.set(key, fingerprint);
                    }
                    this.inflightReceipts.delete(key);
                    return out;
                });
            this.inflightReceipts.set(key, { fingerprint, promise });
            return promise;
        }
    }

    private async forwardRoku(receipt: ReceiptRequest, requestId: string): Promise<Outcome> {
        if (this.config.rokuPartnerApiKey) {
            const rv = await this.upstream.validateRokuTransaction(receipt.order.purchaseId, receipt.order.code, requestId);
            if (rv.kind === 'refused') {
                return { status: 403, code: 'TRANSACTION_NOT_VERIFIED', detail: `roku-${rv.reason}` };
            }
            if (rv.kind === 'unavailable') {
                return { status: 503, code: 'ROKU_UNAVAILABLE', retryAfter: true, detail: `roku-${rv.reason}` };
            }
        }
        return mapPayment(await this.upstream.postRokuPayment(toCleengPayment(receipt), requestId));
    }

    private async forwardAndroid(receipt: CleengAndroidPaymentRequest, requestId: string): Promise<Outcome> {
        return mapPayment(await this.upstream.postPayment(this.config.cleengAndroidPaymentUrl, receipt, requestId, 'cleeng.android-payment'));
    }

    private async customerToken(email: string, requestId: string): Promise<{ token: string } | { fail: Outcome }> {
        const key = sha256(email);
        const cached = this.customerTokens.get(key);
        if (cached) {
            return { token: cached };
        }
        const r = await this.upstream.rpc<GenerateCustomerTokenResult>(
            'generateCustomerToken',
            { publisherToken: this.config.publisherToken, customerEmail: email },
            requestId,
        );
        if (r.kind === 'result' && typeof r.result.token === 'string' && r.result.token) {
            this.customerTokens.set(key, r.result.token);
            return { token: r.result.token };
        }
        return { fail: mapRpcFailure(r, 'token') };
    }

    private async entitlementCheck(ctx: Ctx): Promise<void> {
        const check = await this.validRequest(ctx, validateEntitlementCheck);
        if (!check) {
            return;
        }
        const { customerEmail, offerId } = check;
        for (let round = 0; round < 2; round++) {
            const t = await this.customerToken(customerEmail, ctx.requestId);
            if ('fail' in t) {
                return this.sendOutcome(ctx, t.fail);
            }
            const r = await this.upstream.rpc<GetAccessStatusResult>('getAccessStatus', { customerToken: t.token, offerId }, ctx.requestId);
            if (r.kind === 'result') {
                const out: EntitlementCheckResponse = {
                    accessGranted: r.result.accessGranted === true,
                    expiresAt: typeof r.result.expiresAt === 'number' && Number.isFinite(r.result.expiresAt) ? r.result.expiresAt : null,
                };
                ctx.logFields.accessGranted = out.accessGranted;
                sendJson(ctx.res, 200, out);
                return;
            }
            if (r.kind === 'rpc-error' && r.error.code === CleengRpcCode.INVALID_CUSTOMER_TOKEN && round === 0) {
                this.customerTokens.delete(sha256(customerEmail));
                ctx.logFields.tokenRefreshed = true;
                continue;
            }
            return this.sendOutcome(ctx, mapRpcFailure(r, 'access'));
        }
    }

    /** Answers with an outcome: `ok` for a 200 (when given), otherwise the outcome's error. */
    private sendOutcome(ctx: Ctx, o: Outcome, ok?: ReceiptAccepted): void {
        if (o.detail) {
            ctx.logFields.upstream = o.detail;
        }
        if (o.status === 200 && ok) {
            sendJson(ctx.res, 200, ok);
            return;
        }
        this.fail(ctx, o.status, o.code ?? 'INTERNAL', { retryAfterSec: o.retryAfter ? this.config.retryAfterSec : undefined });
    }
}

function mapPayment(p: PaymentOutcome): Outcome {
    switch (p.kind) {
        case 'accepted':
            return { status: 200 };
        case 'unavailable':
            return { status: 503, code: 'CLEENG_UNAVAILABLE', retryAfter: true, detail: `cleeng-${p.reason}` };
        case 'refused':
            if (p.status === 400) {
                return { status: 400, code: 'CLEENG_INVALID', detail: 'cleeng-400' };
            }
            if (p.status === 401 || p.status === 403) {
                return { status: 502, code: 'CLEENG_AUTH', detail: `cleeng-${p.status}` };
            }
            if (p.status === 422) {
                return { status: 422, code: 'CLEENG_REJECTED', detail: 'cleeng-422' };
            }
            return { status: 502, code: 'CLEENG_ERROR', detail: `cleeng-${p.status}` };
    }
}

function mapRpcFailure(
    r: { kind: 'rpc-error'; error: { code: number } } | { kind: 'http-error'; status: number } | { kind: 'unavailable'; reason: string } | { kind: 'result' },
    step: 'token' | 'access',
): Outcome {
    switch (r.kind) {
        case 'unavailable':
            return { status: 503, code: 'CLEENG_UNAVAILABLE', retryAfter: true, detail: `cleeng-${step}-${r.reason}` };
        case 'http-error':
            return {
                status: 502,
                code: r.status === 401 || r.status === 403 ? 'CLEENG_AUTH' : 'CLEENG_ERROR',
                detail: `cleeng-${step}-${r.status}`,
            };
        case 'rpc-error': {
            const detail = `cleeng-${step}-rpc-${r.error.code}`;
            if (step === 'token') {
                return {
                    status: 502,
                    code: r.error.code === CleengRpcCode.INVALID_PUBLISHER_TOKEN ? 'CLEENG_AUTH' : 'CLEENG_ERROR',
                    detail,
                };
            }
            if (r.error.code === CleengRpcCode.OFFER_NOT_FOUND) {
                return { status: 422, code: 'CLEENG_REJECTED', detail };
            }
            if (r.error.code === CleengRpcCode.INVALID_ARGUMENTS) {
                return { status: 400, code: 'CLEENG_INVALID', detail };
            }
            return { status: 502, code: 'CLEENG_ERROR', detail };
        }
        case 'result':
            return { status: 502, code: 'CLEENG_ERROR', detail: `cleeng-${step}-malformed` };
    }
}

/** Start the relay; resolves once it listens. */
export async function startRelay(config: RelayConfigInput | RelayConfig): Promise<RelayHandle> {
    return new RelayServer(config).listen();
}

// Re-exported so callers (the emulator, tests) can map offers to Roku product codes from one place.
export { offerIdToRokuProductCode };
