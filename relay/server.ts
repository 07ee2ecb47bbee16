/**
 * The receipt relay: holds Cleeng's publisher token so the Roku channel never does. Built on
 * fastify (body limit, request IDs, schema validation, trusted-proxy client IPs), pino (logs),
 * jose (device proofs, check tokens), undici (upstream) and a shared store (Redis or memory).
 * Routes: POST /v1/roku/receipts, POST /v1/android/receipts, POST /v1/entitlements/check,
 * POST /v1/nonce, GET /healthz. See docs/relay.md.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest, LogController } from 'fastify';
import { RelayConfig, RelayConfigInput, resolveRelayConfig } from './config';
import {
    ENTITLEMENT_CHECK_REQUEST_SCHEMA,
    RECEIPT_REQUEST_SCHEMA,
    RELAY_ERRORS,
    RELAY_ERROR_MESSAGES,
    fieldsFromErrors,
    offerIdToRokuProductCode,
    schemaValidator,
    type EntitlementCheckAnswer,
    type EntitlementCheckRequest,
    type ErrorBody,
    type NonceAnswer,
    type ReceiptAccepted,
    type ReceiptRequest,
    type RelayErrorCode,
} from '../contract/generated';
import { CleengAndroidPaymentRequest, CleengRpcCode, GenerateCustomerTokenResult, GetAccessStatusResult, toCleengPayment } from './cleeng';
import { createLogger, LineLog, withFields } from './log';

type Logger = LineLog;
import { AttestationPolicy, issueNonce, Keys, loadAttestationKey, verifyAttestation } from './attestation';
import { Limiter, MemoryStore, newLockId, RedisStore, RelayStore, StoreUnavailableError } from './store';
import { androidReceiptRequestSchema, createAjv } from './schemas';
import { PaymentOutcome, RpcOutcome, Upstream } from './upstream';

export interface RelayHandle {
    url: string;
    port: number;
    config: RelayConfig;
    /** `memory` or `redis`. */
    store: RelayStore['kind'];
    /** Stop accepting, let in-flight requests finish (up to shutdownGraceMs), then cut the rest. */
    close(): Promise<void>;
}

/** What a request ends in. */
interface Outcome {
    status: number;
    code?: RelayErrorCode;
    retryAfterSec?: number;
    /** Safe detail for the log line (never sent to the client). */
    detail?: string;
}

type LogValue = string | number | boolean;

declare module 'fastify' {
    interface FastifyRequest {
        /** Extra safe fields for this request's log line. */
        logFields: Record<string, LogValue>;
    }
}

const ROUTES: Record<string, string[]> = {
    '/healthz': ['GET', 'HEAD'],
    '/v1/nonce': ['POST'],
    '/v1/roku/receipts': ['POST'],
    '/v1/android/receipts': ['POST'],
    '/v1/entitlements/check': ['POST'],
};
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;
const CORS_ALLOW_HEADERS = 'Content-Type, Authorization, X-Request-Id';

class Reject extends Error {
    constructor(readonly outcome: Outcome) {
        super(outcome.code);
    }
}

export class RelayServer {
    readonly config: RelayConfig;
    private readonly logger: ReturnType<typeof createLogger>;
    private readonly app: FastifyInstance;
    private readonly abort = new AbortController();
    private readonly upstream: Upstream;
    private readonly store: RelayStore;
    private readonly keys: Keys;
    private readonly ipLimiter: Limiter;
    private readonly emailLimiter: Limiter;
    private readonly attestation?: AttestationPolicy;
    /** Receipts this instance is working on (duplicates here wait for them). */
    private readonly local = new Map<string, { owner: string; offerId: string; done: Promise<Outcome | undefined> }>();
    private closingFlag = false;
    private closing?: Promise<void>;

    constructor(input: RelayConfigInput | RelayConfig) {
        this.config = resolveRelayConfig(input as RelayConfigInput);
        const c = this.config;
        setMaxListeners(0, this.abort.signal);
        this.logger = createLogger(c.logSink, [c.publisherToken, c.rokuPartnerApiKey ?? '', c.secret].filter(Boolean));
        this.store = c.redisUrl
            ? new RedisStore({
                  url: c.redisUrl,
                  recordTtlMs: c.idempotency.ttlMs,
                  onStateChange: (ready) => this.logger[ready ? 'info' : 'error']({ store: 'redis', ready }, ready ? 'store ready' : 'store unavailable'),
              })
            : new MemoryStore(c.idempotency.ttlMs, c.idempotency.maxEntries);
        this.keys = new Keys(c.secret, c.checkTokenTtlSec);
        this.upstream = new Upstream(c, this.abort.signal);
        this.ipLimiter = this.store.limiter('ip', c.rateLimit.perIp, c.rateLimit.windowMs);
        this.emailLimiter = this.store.limiter('email', c.rateLimit.perEmail, c.rateLimit.windowMs);
        if (c.attestation) {
            this.attestation = {
                key: loadAttestationKey(c.attestation.cert),
                store: this.store,
                channelId: c.attestation.channelId,
                channelClaim: c.attestation.channelClaim,
                skewSec: c.attestation.skewSec,
                maxAgeSec: c.attestation.maxAgeSec,
            };
        }
        this.app = this.build();
    }

    private build(): FastifyInstance {
        const c = this.config;
        const app = Fastify({
            loggerInstance: this.logger as FastifyBaseLogger,
            logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
            requestIdHeader: false,
            genReqId: (req) => {
                const incoming = req.headers['x-request-id'];
                return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
            },
            bodyLimit: c.bodyLimitBytes,
            trustProxy: c.trustedProxies.length > 0 ? c.trustedProxies : false,
            return503OnClosing: false,
            keepAliveTimeout: 5_000,
            requestTimeout: 30_000,
        });
        // Route bodies are validated by the contract's compiled schemas (contract/generated); the
        // Android body, which only the relay knows, by its own schema.
        const ajv = createAjv();
        app.setValidatorCompiler(({ schema }) => {
            const id = (schema as { $id?: string }).$id;
            return id && id.startsWith('https://contract.') ? schemaValidator(id) : ajv.compile(schema);
        });
        app.removeContentTypeParser('text/plain');
        app.addContentTypeParser(/^application\/[\w.-]+\+json$/i, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
        app.decorateRequest('logFields', null as unknown as Record<string, LogValue>);

        app.addHook('onRequest', async (req, reply) => {
            req.logFields = {};
            reply.header('X-Request-Id', req.id);
            reply.header('Cache-Control', 'no-store');
            reply.header('X-Content-Type-Options', 'nosniff');
            this.cors(req, reply);
            if (req.method === 'OPTIONS') {
                return reply.code(204).header('Content-Length', '0').send();
            }
            if (this.closingFlag) {
                reply.header('Connection', 'close');
                return this.sendError(req, reply, { status: 503, code: 'SHUTTING_DOWN', retryAfterSec: c.retryAfterSec });
            }
            return undefined;
        });
        app.addHook('onSend', async (_req, reply) => {
            if (this.closingFlag) {
                reply.header('Connection', 'close');
            }
        });
        app.addHook('onResponse', async (req, reply) => {
            const url = req.routeOptions.url;
            req.log.info(
                {
                    method: req.method,
                    path: url && ROUTES[url] ? url : '(other)',
                    status: reply.statusCode,
                    ms: Math.round(reply.elapsedTime * 10) / 10,
                    ...req.logFields,
                },
                'request',
            );
            if (this.closingFlag) {
                app.server.closeIdleConnections();
            }
        });

        app.setErrorHandler((err: FastifyError, req, reply) => {
            if (err instanceof Reject) {
                return this.sendError(req, reply, err.outcome);
            }
            if (err instanceof StoreUnavailableError) {
                req.logFields.store = 'unavailable';
                return this.sendError(req, reply, { status: 503, code: 'STORE_UNAVAILABLE', retryAfterSec: c.retryAfterSec });
            }
            if (err.validation) {
                return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, fieldsFromErrors(err.validation as never));
            }
            switch (err.code) {
                case 'FST_ERR_CTP_BODY_TOO_LARGE':
                    reply.header('Connection', 'close');
                    return this.sendError(req, reply, { status: 413, code: 'PAYLOAD_TOO_LARGE' });
                case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
                case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
                    return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { 'content-type': 'must be application/json' });
                case 'FST_ERR_CTP_EMPTY_JSON_BODY':
                case 'FST_ERR_CTP_INVALID_JSON_BODY':
                    return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { body: 'must be valid JSON' });
            }
            if (err.statusCode === 400) {
                return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { body: 'must be valid JSON' });
            }
            req.logFields.error = 'internal';
            req.log.error({ err: { type: err.name, code: err.code } }, 'internal error');
            return this.sendError(req, reply, { status: 500, code: 'INTERNAL' });
        });
        app.setNotFoundHandler((req, reply) => this.sendError(req, reply, { status: 404, code: 'NOT_FOUND' }));

        for (const [path, allowed] of Object.entries(ROUTES)) {
            const others = ALL_METHODS.filter((m) => !allowed.includes(m));
            app.route({
                method: others,
                url: path,
                handler: (req, reply) => {
                    reply.header('Allow', [...allowed.filter((m) => m !== 'HEAD'), 'OPTIONS'].join(', '));
                    return this.sendError(req, reply, { status: 405, code: 'METHOD_NOT_ALLOWED' });
                },
            });
        }

        const limitIp = async (req: FastifyRequest): Promise<void> => {
            const d = await this.ipLimiter.hit(req.ip);
            if (!d.allowed) {
                req.logFields.limit = 'ip';
                throw new Reject({ status: 429, code: 'RATE_LIMITED', retryAfterSec: d.retryAfterSec });
            }
        };

        app.get('/healthz', async (req, reply) => {
            if (!this.store.ready()) {
                req.logFields.store = 'unavailable';
                return this.sendError(req, reply, { status: 503, code: 'STORE_UNAVAILABLE', retryAfterSec: c.retryAfterSec });
            }
            return reply.code(200).send({ ok: true, attestationRequired: Boolean(this.attestation) });
        });
        app.post('/v1/nonce', { onRequest: limitIp }, async (): Promise<NonceAnswer> => {
            return issueNonce(this.store, c.attestation?.nonceTtlMs ?? 120_000);
        });
        app.post<{ Body: ReceiptRequest }>('/v1/roku/receipts', { onRequest: limitIp, schema: { body: RECEIPT_REQUEST_SCHEMA } }, (req, reply) => this.rokuReceipt(req, reply));
        app.post<{ Body: CleengAndroidPaymentRequest }>(
            '/v1/android/receipts',
            { onRequest: limitIp, schema: { body: androidReceiptRequestSchema } },
            (req, reply) => this.androidReceipt(req, reply),
        );
        app.post<{ Body: EntitlementCheckRequest }>(
            '/v1/entitlements/check',
            { onRequest: limitIp, schema: { body: ENTITLEMENT_CHECK_REQUEST_SCHEMA } },
            (req, reply) => this.entitlementCheck(req, reply),
        );
        return app;
    }

    async listen(): Promise<RelayHandle> {
        await this.store.start();
        await this.app.listen({ port: this.config.port, host: this.config.host });
        const addr = this.app.server.address() as { address: string; port: number; family: string };
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        const url = `http://${host}:${addr.port}`;
        this.logger.info(
            {
                url,
                cleengEnv: this.config.cleengEnv,
                store: this.store.kind,
                instance: this.store.instanceId,
                rokuValidation: Boolean(this.config.rokuPartnerApiKey),
                deviceProof: Boolean(this.attestation),
                cors: this.config.cors === '*' ? '*' : this.config.cors.length > 0,
            },
            'relay listening',
        );
        return { url, port: addr.port, config: this.config, store: this.store.kind, close: () => this.close() };
    }

    close(): Promise<void> {
        if (this.closing) {
            return this.closing;
        }
        this.closingFlag = true;
        this.closing = (async () => {
            const closed = this.app.close();
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, this.config.shutdownGraceMs)))]);
            clearTimeout(timer);
            this.abort.abort();
            this.app.server.closeAllConnections();
            await closed;
            await this.upstream.close();
            await this.store.close();
            this.logger.info('relay stopped');
        })();
        return this.closing;
    }

    // -----------------------------------------------------------------------------------------

    private cors(req: FastifyRequest, reply: FastifyReply): void {
        const allowed = this.config.cors;
        if (allowed !== '*' && allowed.length === 0) {
            return;
        }
        const origin = req.headers.origin;
        const allowOrigin = allowed === '*' ? '*' : typeof origin === 'string' && allowed.includes(origin) ? origin : undefined;
        if (!allowOrigin) {
            return;
        }
        reply.header('Access-Control-Allow-Origin', allowOrigin);
        reply.header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        reply.header('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
        reply.header('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After');
        reply.header('Access-Control-Max-Age', '600');
        if (allowOrigin !== '*') {
            reply.header('Vary', 'Origin');
        }
    }

    private sendError(req: FastifyRequest, reply: FastifyReply, o: Outcome, fields?: Record<string, string>): FastifyReply {
        if (o.retryAfterSec !== undefined) {
            reply.header('Retry-After', String(o.retryAfterSec));
        }
        if (o.detail) {
            req.logFields.upstream = o.detail;
        }
        const code = o.code ?? 'INTERNAL';
        req.logFields.code = code;
        // Status and message come from the contract's error list (contract/relay/errors.json).
        const body: ErrorBody = { error: { code, message: RELAY_ERROR_MESSAGES[code] }, requestId: req.id };
        if (fields && Object.keys(fields).length > 0) {
            body.error.fields = fields;
        }
        return reply.code(RELAY_ERRORS[code].status).send(body);
    }

    private async limitEmail(req: FastifyRequest, owner: string): Promise<void> {
        // Counted per (email, client): a third party elsewhere cannot use up a viewer's budget.
        const d = await this.emailLimiter.hit(`${owner}|${req.ip}`);
        if (!d.allowed) {
            req.logFields.limit = 'email';
            throw new Reject({ status: 429, code: 'RATE_LIMITED', retryAfterSec: d.retryAfterSec });
        }
    }

    private async rokuReceipt(req: FastifyRequest<{ Body: ReceiptRequest }>, reply: FastifyReply): Promise<FastifyReply> {
        const receipt = req.body;
        // JSON cannot express Infinity, but JSON.parse turns 1e999 into it.
        for (const k of ['amount', 'total'] as const) {
            if (!Number.isFinite(receipt.order[k])) {
                return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { [`order.${k}`]: 'must be a finite number' });
            }
        }
        if (receipt.order.code !== offerIdToRokuProductCode(receipt.offerId)) {
            return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { 'order.code': 'must equal offerId with "_" replaced by "-"' });
        }
        const purchaseId = receipt.order.purchaseId;
        const log = this.receiptLog(req, 'roku', purchaseId);
        if (this.attestation) {
            if (!receipt.attestation) {
                req.logFields.deviceProof = 'missing';
                return this.sendError(req, reply, { status: 401, code: 'ATTESTATION_REQUIRED' });
            }
            const a = await verifyAttestation(receipt.attestation, this.attestation);
            req.logFields.deviceProof = a.ok ? 'ok' : a.reason;
            if (!a.ok) {
                log.warn({ deviceProof: a.reason }, 'device proof refused');
                return this.sendError(req, reply, { status: 401, code: 'ATTESTATION_INVALID' });
            }
        }
        return this.deliver(req, reply, log, 'roku', purchaseId, purchaseId, receipt.customerEmail, receipt.offerId, async (onSend) => {
            if (this.config.rokuPartnerApiKey) {
                const rv = await this.upstream.validateRokuTransaction(purchaseId, receipt.order.code, req.id, log);
                if (rv.kind === 'refused') {
                    return { outcome: { status: 403, code: 'TRANSACTION_NOT_VERIFIED', detail: `roku-${rv.reason}` }, ambiguous: false };
                }
                if (rv.kind === 'busy') {
                    return { outcome: this.busy('roku-busy'), ambiguous: false };
                }
                if (rv.kind === 'unavailable') {
                    return { outcome: { status: 503, code: 'ROKU_UNAVAILABLE', retryAfterSec: this.config.retryAfterSec, detail: `roku-${rv.reason}` }, ambiguous: false };
                }
            }
            return this.mapPayment(await this.upstream.postPayment(this.config.cleengRokuPaymentUrl, toCleengPayment(receipt), req.id, 'cleeng.roku-payment', log, onSend));
        });
    }

    private async androidReceipt(req: FastifyRequest<{ Body: CleengAndroidPaymentRequest }>, reply: FastifyReply): Promise<FastifyReply> {
        const b = req.body;
        if (b.receipt.productId !== b.offerId.toLowerCase()) {
            return this.sendError(req, reply, { status: 400, code: 'INVALID_REQUEST' }, { 'receipt.productId': 'must equal offerId in lower case' });
        }
        const body: CleengAndroidPaymentRequest = {
            customerEmail: b.customerEmail,
            offerId: b.offerId,
            receipt: {
                productId: b.receipt.productId,
                purchaseToken: b.receipt.purchaseToken,
                packageName: b.receipt.packageName,
                orderId: b.receipt.orderId,
                purchaseState: b.receipt.purchaseState,
                purchaseTime: b.receipt.purchaseTime,
                ...(b.receipt.developerPayload !== undefined ? { developerPayload: b.receipt.developerPayload } : {}),
            },
            ...(b.ipAddress !== undefined ? { ipAddress: b.ipAddress } : {}),
        };
        const log = this.receiptLog(req, 'android', b.receipt.purchaseToken);
        return this.deliver(req, reply, log, 'android', b.receipt.purchaseToken, b.receipt.orderId, b.customerEmail, b.offerId, async (onSend) =>
            this.mapPayment(await this.upstream.postPayment(this.config.cleengAndroidPaymentUrl, body, req.id, 'cleeng.android-payment', log, onSend)),
        );
    }

    /** A logger whose every line carries the purchase reference (and the request ID). */
    private receiptLog(req: FastifyRequest, store: string, transactionId: string): Logger {
        const purchaseRef = this.keys.purchaseRef(store, transactionId);
        req.logFields.purchaseRef = purchaseRef;
        return withFields(req.log, { purchaseRef });
    }

    private busy(detail: string): Outcome {
        return { status: 503, code: 'UPSTREAM_BUSY', retryAfterSec: Math.max(1, Math.min(this.config.retryAfterSec, 2)), detail };
    }

    /**
     * Exactly once per store transaction, across instances and restarts:
     * - accepted before for the same owner and offer → 200 from the record, nothing posted;
     *   for another owner or offer → 409 PURCHASE_OWNED;
     * - in flight here → wait for it; in flight on a live instance → poll up to inflightWaitMs, then 503;
     * - an earlier post's outcome unknown (its instance died mid-post, or every attempt timed out) →
     *   ask Cleeng whether it granted the purchase before posting again (reconcile);
     * - otherwise post, and record the outcome.
     */
    private async deliver(
        req: FastifyRequest,
        reply: FastifyReply,
        log: Logger,
        store: string,
        transactionId: string,
        answerPurchaseId: string,
        email: string,
        offerId: string,
        forward: (onSend: () => Promise<void>) => Promise<{ outcome: Outcome; ambiguous: boolean }>,
    ): Promise<FastifyReply> {
        const owner = this.keys.owner(email);
        req.logFields.ownerRef = this.keys.ownerRef(owner);
        await this.limitEmail(req, owner);
        const key = `${store}:${transactionId}`;
        const deadline = Date.now() + this.config.inflightWaitMs;
        let outcome: Outcome | undefined;
        while (!outcome) {
            const here = this.local.get(key);
            if (here) {
                req.logFields.idempotent = 'coalesced';
                const shared = await here.done;
                // A failure is shared by duplicates of the same request; a success is answered from the record.
                if (shared && shared.status !== 200 && here.owner === owner && here.offerId === offerId) {
                    outcome = shared;
                }
                continue;
            }
            const lock = newLockId(this.store.instanceId);
            const claim = await this.store.claim(key, owner, offerId, lock);
            if (claim.kind === 'accepted' || claim.kind === 'conflict') {
                if (claim.owner === owner && claim.offer === offerId) {
                    req.logFields.idempotent = req.logFields.idempotent ?? 'repeat';
                    outcome = { status: 200 };
                } else {
                    const why = claim.owner === owner ? 'offer' : 'owner';
                    req.logFields.conflict = why;
                    log.warn({ conflict: why, ownerRef: this.keys.ownerRef(owner), heldBy: this.keys.ownerRef(claim.owner), state: claim.kind }, 'purchase owned by another customer');
                    outcome = { status: 409, code: 'PURCHASE_OWNED' };
                }
            } else if (claim.kind === 'busy') {
                if (Date.now() >= deadline) {
                    outcome = this.busy('inflight-elsewhere');
                } else {
                    req.logFields.idempotent = 'waited';
                    await sleep(50);
                }
            } else {
                const work = this.work(key, lock, claim.postedAt, email, offerId, req.id, log, forward);
                this.local.set(key, { owner, offerId, done: work.catch(() => undefined) });
                try {
                    outcome = await work;
                } finally {
                    this.local.delete(key);
                }
            }
        }
        if (outcome.status !== 200) {
            return this.sendError(req, reply, outcome);
        }
        const accepted: ReceiptAccepted = { status: 'queued', purchaseId: answerPurchaseId, requestId: req.id, checkToken: await this.keys.checkToken(owner, offerId) };
        return reply.code(200).send(accepted);
    }

    private async work(
        key: string,
        lock: string,
        postedAt: number | undefined,
        email: string,
        offerId: string,
        requestId: string,
        log: Logger,
        forward: (onSend: () => Promise<void>) => Promise<{ outcome: Outcome; ambiguous: boolean }>,
    ): Promise<Outcome> {
        let keepPosting = true;
        try {
            if (postedAt !== undefined) {
                const r = await this.reconcile(email, offerId, postedAt, requestId, log);
                log.info({ reconcile: r.kind }, 'earlier post of unknown outcome');
                if (r.kind === 'granted') {
                    await this.store.accept(key, lock, Date.now());
                    return { status: 200, detail: 'reconciled-granted' };
                }
                if (r.kind !== 'post') {
                    await this.store.release(key, lock, true);
                    return r.kind === 'wait'
                        ? { status: 503, code: 'UPSTREAM_BUSY', retryAfterSec: r.retryAfterSec, detail: 'reconcile-wait' }
                        : { status: 503, code: 'CLEENG_UNAVAILABLE', retryAfterSec: this.config.retryAfterSec, detail: 'reconcile-unavailable' };
                }
            }
            const { outcome, ambiguous } = await forward(() => this.store.markPosting(key, lock, Date.now()));
            if (outcome.status === 200) {
                await this.store.accept(key, lock, Date.now());
                return { ...outcome, detail: 'cleeng-accepted' };
            }
            keepPosting = ambiguous;
            await this.store.release(key, lock, ambiguous);
            return outcome;
        } catch (e) {
            await this.store.release(key, lock, keepPosting).catch(() => undefined);
            throw e;
        }
    }

    /** After a post of unknown outcome: did Cleeng grant it? Re-post only once Cleeng's processing time has passed. */
    private async reconcile(
        email: string,
        offerId: string,
        postedAt: number,
        requestId: string,
        log: Logger,
    ): Promise<{ kind: 'granted' } | { kind: 'post' } | { kind: 'wait'; retryAfterSec: number } | { kind: 'unavailable' }> {
        const access = await this.accessStatus(email, offerId, requestId, log);
        if ('fail' in access) {
            return { kind: 'unavailable' };
        }
        if (access.result.accessGranted === true) {
            return { kind: 'granted' };
        }
        const remaining = postedAt + this.config.cleengGraceMs - Date.now();
        return remaining > 0 ? { kind: 'wait', retryAfterSec: Math.max(1, Math.ceil(remaining / 1000)) } : { kind: 'post' };
    }

    private mapPayment(p: PaymentOutcome): { outcome: Outcome; ambiguous: boolean } {
        switch (p.kind) {
            case 'accepted':
                return { outcome: { status: 200 }, ambiguous: false };
            case 'busy':
                return { outcome: this.busy('cleeng-busy'), ambiguous: p.ambiguous };
            case 'unavailable':
                return { outcome: { status: 503, code: 'CLEENG_UNAVAILABLE', retryAfterSec: this.config.retryAfterSec, detail: `cleeng-${p.reason}` }, ambiguous: p.ambiguous };
            case 'refused':
                if (p.status === 400) {
                    return { outcome: { status: 400, code: 'CLEENG_INVALID', detail: 'cleeng-400' }, ambiguous: false };
                }
                if (p.status === 401 || p.status === 403) {
                    return { outcome: { status: 502, code: 'CLEENG_AUTH', detail: `cleeng-${p.status}` }, ambiguous: false };
                }
                if (p.status === 422) {
                    return { outcome: { status: 422, code: 'CLEENG_REJECTED', detail: 'cleeng-422' }, ambiguous: false };
                }
                return { outcome: { status: 502, code: 'CLEENG_ERROR', detail: `cleeng-${p.status}` }, ambiguous: false };
        }
    }

    private async customerToken(email: string, requestId: string, log: Logger): Promise<{ token: string } | { fail: Outcome }> {
        const key = this.keys.owner(email);
        const cached = await this.store.getCustomerToken(key);
        if (cached) {
            return { token: cached };
        }
        const r = await this.upstream.rpc<GenerateCustomerTokenResult>(
            'generateCustomerToken',
            { publisherToken: this.config.publisherToken, customerEmail: email },
            requestId,
            log,
        );
        if (r.kind === 'result' && typeof r.result.token === 'string' && r.result.token) {
            await this.store.setCustomerToken(key, r.result.token, this.config.customerTokenTtlMs);
            return { token: r.result.token };
        }
        return { fail: this.mapRpcFailure(r, 'token') };
    }

    /** Cleeng's getAccessStatus for (email, offer), with one token refresh on error 1. */
    private async accessStatus(email: string, offerId: string, requestId: string, log: Logger, fields?: Record<string, LogValue>): Promise<{ result: GetAccessStatusResult } | { fail: Outcome }> {
        for (let round = 0; round < 2; round++) {
            const t = await this.customerToken(email, requestId, log);
            if ('fail' in t) {
                return t;
            }
            const r = await this.upstream.rpc<GetAccessStatusResult>('getAccessStatus', { customerToken: t.token, offerId }, requestId, log);
            if (r.kind === 'result') {
                return { result: r.result };
            }
            if (r.kind === 'rpc-error' && r.error.code === CleengRpcCode.INVALID_CUSTOMER_TOKEN && round === 0) {
                await this.store.deleteCustomerToken(this.keys.owner(email));
                if (fields) {
                    fields.tokenRefreshed = true;
                }
                continue;
            }
            return { fail: this.mapRpcFailure(r, 'access') };
        }
        return { fail: { status: 502, code: 'CLEENG_ERROR', detail: 'cleeng-access-token' } };
    }

    private async entitlementCheck(
        req: FastifyRequest<{ Body: EntitlementCheckRequest }>,
        reply: FastifyReply,
    ): Promise<FastifyReply> {
        const { customerEmail, offerId, checkToken, attestation } = req.body;
        const owner = this.keys.owner(customerEmail);
        req.logFields.ownerRef = this.keys.ownerRef(owner);
        await this.limitEmail(req, owner);
        // Proof that the asker holds this purchase: the check token from the accepted receipt, or a device proof.
        if (checkToken !== undefined) {
            if (!(await this.keys.verifyCheckToken(checkToken, owner, offerId))) {
                req.logFields.proof = 'check-token-refused';
                return this.sendError(req, reply, { status: 401, code: 'PROOF_REQUIRED' });
            }
            req.logFields.proof = 'check-token';
        } else if (attestation !== undefined && this.attestation) {
            const a = await verifyAttestation(attestation, this.attestation);
            req.logFields.proof = a.ok ? 'attestation' : `attestation-${a.reason}`;
            if (!a.ok) {
                return this.sendError(req, reply, { status: 401, code: 'ATTESTATION_INVALID' });
            }
        } else {
            req.logFields.proof = 'missing';
            return this.sendError(req, reply, { status: 401, code: 'PROOF_REQUIRED' });
        }
        const r = await this.accessStatus(customerEmail, offerId, req.id, req.log, req.logFields);
        if ('fail' in r) {
            return this.sendError(req, reply, r.fail);
        }
        const out: EntitlementCheckAnswer = {
            accessGranted: r.result.accessGranted === true,
            expiresAt: typeof r.result.expiresAt === 'number' && Number.isFinite(r.result.expiresAt) ? r.result.expiresAt : null,
        };
        req.logFields.accessGranted = out.accessGranted;
        return reply.code(200).send(out);
    }

    private mapRpcFailure(r: Exclude<RpcOutcome<unknown>, { kind: 'result' }> | { kind: 'result' }, step: 'token' | 'access'): Outcome {
        switch (r.kind) {
            case 'busy':
                return this.busy(`cleeng-${step}-busy`);
            case 'unavailable':
                return { status: 503, code: 'CLEENG_UNAVAILABLE', retryAfterSec: this.config.retryAfterSec, detail: `cleeng-${step}-${r.reason}` };
            case 'http-error':
                return { status: 502, code: r.status === 401 || r.status === 403 ? 'CLEENG_AUTH' : 'CLEENG_ERROR', detail: `cleeng-${step}-${r.status}` };
            case 'rpc-error': {
                const detail = `cleeng-${step}-rpc-${r.error.code}`;
                if (step === 'token') {
                    return { status: 502, code: r.error.code === CleengRpcCode.INVALID_PUBLISHER_TOKEN ? 'CLEENG_AUTH' : 'CLEENG_ERROR', detail };
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
}

/** Start the relay; resolves once it listens. */
export async function startRelay(config: RelayConfigInput | RelayConfig): Promise<RelayHandle> {
    return new RelayServer(config).listen();
}

// Re-exported so callers (the emulator, tests) can map offers to Roku product codes from one place.
export { offerIdToRokuProductCode };
