/**
 * A local stand-in for Cleeng, for tests and for running the channel with no Cleeng account.
 * Listens on 127.0.0.1 only. Speaks:
 *   - Cleeng's `POST /roku/payment` (and `/android/payment`) with X-Publisher-Token;
 *   - JSON-RPC 3.0 at `/3.0/json-rpc` and `/api/3.0/json-rpc` (generateCustomerToken, getAccessStatus);
 *   - the relay's own routes (`/v1/roku/receipts`, `/v1/entitlements/check`, `/v1/nonce`,
 *     `/v1/android/receipts`, `/healthz`) straight against its state, using the relay's contract;
 *   - control routes under `/__emulator/` (fault, requests, reset, grant, …).
 * Never logs tokens or emails: the log line is method, path, status, request id.
 */
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
    checkAndroidPaymentShape,
    checkRokuPaymentShape,
    CleengErrorResponse,
    CleengRpcCode,
    EntitlementCheckResponse,
    GetAccessStatusResult,
    JsonRpcError,
    NonceResponse,
    offerIdToRokuProductCode,
    relayError,
    validateEntitlementCheck,
    validateJsonBody,
    EMAIL_PATTERN,
    ANDROID_RECEIPTS,
    receiptAccepted,
    ROKU_RECEIPTS,
    type ReceiptRoute,
    type Validation,
} from '../../relay/contract';
import { corsHeaders, parseJson, readBody, BodyTooLargeError, requestIdFor, sendJson } from '../../relay/http';

export type EmulatorFault = { path?: string; count?: number } & (
    | { kind: 'status'; status: number }
    | { kind: 'timeout' }
    | { kind: 'drop' }
    | { kind: 'malformed' }
    | { kind: 'slow'; ms: number }
);

export interface RecordedRequest {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: string;
    json?: unknown;
    at: number;
}

export interface EmulatorPurchase {
    store: 'roku' | 'android';
    purchaseId: string;
    customerEmail: string;
    offerId: string;
    at: number;
}

export interface CleengEmulatorOptions {
    /** 0 (default) picks a free port. */
    port?: number;
    /** The only publisher token accepted. Default `emulator-publisher-token`. */
    publisherToken?: string;
    /** Offer IDs that exist. Default S123123123_US, S123123124_US, S123123125_US. */
    offers?: string[];
    /** Delay between a queued receipt and the grant: fixed ms or a random range. Default 2000–4000. Max 30000. */
    grantDelayMs?: number | { min: number; max: number };
    /** How long a granted access lasts (reported as expiresAt). Default 30 days. */
    accessDurationMs?: number;
    /** Customer token lifetime. Default 1 hour. */
    customerTokenTtlMs?: number;
    /** One line per answered request (method, path, status, request id). Default: silent. */
    log?: (line: string) => void;
}

export interface CleengEmulator {
    url: string;
    port: number;
    /** Every request except `/__emulator/*` control calls, in arrival order (holds secrets: tests only). */
    requests: RecordedRequest[];
    setFault(fault: EmulatorFault | null): void;
    /** Grant access now (skipping any delay). */
    grantNow(email: string, offerId: string): void;
    /** Is access granted right now? */
    hasAccess(email: string, offerId: string): boolean;
    /** Receipts accepted, one per store transaction. */
    purchases(): EmulatorPurchase[];
    /** Invalidate every customer token issued so far (next getAccessStatus answers error 1). */
    expireCustomerTokens(): void;
    /** Forget requests, fault, purchases, grants, pending grants and customer tokens. */
    reset(): void;
    close(): Promise<void>;
}

export const DEFAULT_EMULATOR_OFFERS = ['S123123123_US', 'S123123124_US', 'S123123125_US'];
export const DEFAULT_EMULATOR_PUBLISHER_TOKEN = 'emulator-publisher-token';
export const MAX_GRANT_DELAY_MS = 30_000;

const FAULT_KINDS = new Set(['status', 'timeout', 'drop', 'malformed', 'slow']);

/** Check a fault given over HTTP (or by a caller); returns an error text or the fault. */
export function parseFault(v: unknown): EmulatorFault | null | string {
    if (v === null) {
        return null;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
        return 'fault must be an object or null';
    }
    const f = v as Record<string, unknown>;
    if (typeof f.kind !== 'string' || !FAULT_KINDS.has(f.kind)) {
        return 'kind must be one of status, timeout, drop, malformed, slow';
    }
    if (f.path !== undefined && (typeof f.path !== 'string' || !f.path.startsWith('/'))) {
        return 'path must start with /';
    }
    if (f.count !== undefined && (typeof f.count !== 'number' || !Number.isInteger(f.count) || f.count < 1)) {
        return 'count must be an integer ≥ 1';
    }
    if (f.kind === 'status' && (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 200 || f.status > 599)) {
        return 'status must be an HTTP status';
    }
    if (f.kind === 'slow' && (typeof f.ms !== 'number' || f.ms < 0 || f.ms > 120_000)) {
        return 'ms must be 0-120000';
    }
    const out: Record<string, unknown> = { kind: f.kind };
    for (const k of ['path', 'count', 'status', 'ms']) {
        if (f[k] !== undefined) {
            out[k] = f[k];
        }
    }
    return out as EmulatorFault;
}

export function parseGrantDelay(v: number | { min: number; max: number } | undefined): { min: number; max: number } {
    const d = v === undefined ? { min: 2000, max: 4000 } : typeof v === 'number' ? { min: v, max: v } : v;
    if (!(d.min >= 0 && d.max >= d.min && d.max <= MAX_GRANT_DELAY_MS)) {
        throw new Error(`grant delay must satisfy 0 ≤ min ≤ max ≤ ${MAX_GRANT_DELAY_MS}`);
    }
    return { min: d.min, max: d.max };
}

class Emulator {
    readonly requests: RecordedRequest[] = [];
    private fault: EmulatorFault | null = null;
    private readonly grants = new Map<string, { expiresAt: number }>();
    private readonly purchasesById = new Map<string, EmulatorPurchase>();
    private readonly pending = new Map<string, NodeJS.Timeout>();
    private readonly customerTokens = new Map<string, { email: string; expiresAt: number }>();
    private readonly timers = new Set<NodeJS.Timeout>();
    private readonly publisherToken: string;
    private readonly offers: Set<string>;
    private readonly delay: { min: number; max: number };
    private readonly accessDurationMs: number;
    private readonly customerTokenTtlMs: number;
    readonly server: http.Server;

    constructor(private readonly opts: CleengEmulatorOptions) {
        this.publisherToken = opts.publisherToken ?? DEFAULT_EMULATOR_PUBLISHER_TOKEN;
        this.offers = new Set(opts.offers ?? DEFAULT_EMULATOR_OFFERS);
        this.delay = parseGrantDelay(opts.grantDelayMs);
        this.accessDurationMs = opts.accessDurationMs ?? 30 * 24 * 3600_000;
        this.customerTokenTtlMs = opts.customerTokenTtlMs ?? 3600_000;
        this.server = http.createServer((req, res) => {
            void this.handle(req, res).catch(() => {
                sendJson(res, 500, { code: 500, message: 'Internal error' });
            });
        });
    }

    // ---- state -------------------------------------------------------------------------------

    private key(email: string, offerId: string): string {
        return `${email.trim().toLowerCase()}|${offerId}`;
    }

    setFault(f: EmulatorFault | null): void {
        if (f === null) {
            this.fault = null;
            return;
        }
        const parsed = parseFault(f);
        if (typeof parsed === 'string') {
            throw new Error(parsed);
        }
        this.fault = parsed;
    }

    grantNow(email: string, offerId: string): void {
        this.grants.set(this.key(email, offerId), { expiresAt: Math.floor((Date.now() + this.accessDurationMs) / 1000) });
    }

    hasAccess(email: string, offerId: string): boolean {
        const g = this.grants.get(this.key(email, offerId));
        return Boolean(g && g.expiresAt * 1000 > Date.now());
    }

    purchases(): EmulatorPurchase[] {
        return [...this.purchasesById.values()].map((p) => ({ ...p }));
    }

    expireCustomerTokens(): void {
        this.customerTokens.clear();
    }

    reset(): void {
        this.requests.length = 0;
        this.fault = null;
        this.grants.clear();
        this.purchasesById.clear();
        for (const t of this.pending.values()) {
            clearTimeout(t);
        }
        this.pending.clear();
        this.customerTokens.clear();
    }

    private later(ms: number, fn: () => void): NodeJS.Timeout {
        const t = setTimeout(() => {
            this.timers.delete(t);
            fn();
        }, ms);
        t.unref();
        this.timers.add(t);
        return t;
    }

    stopTimers(): void {
        for (const t of this.timers) {
            clearTimeout(t);
        }
        this.timers.clear();
        this.pending.clear();
    }

    /**
     * Queue a receipt: idempotent by store transaction. The same transaction sent for another
     * email moves the purchase (the old email loses this offer), as Cleeng does.
     */
    private queuePurchase(store: 'roku' | 'android', purchaseId: string, customerEmail: string, offerId: string): void {
        const id = `${store}:${purchaseId}`;
        const existing = this.purchasesById.get(id);
        if (existing && this.key(existing.customerEmail, existing.offerId) === this.key(customerEmail, offerId)) {
            return;
        }
        if (existing) {
            this.grants.delete(this.key(existing.customerEmail, existing.offerId));
            const t = this.pending.get(id);
            if (t) {
                clearTimeout(t);
                this.timers.delete(t);
            }
        }
        this.purchasesById.set(id, { store, purchaseId, customerEmail, offerId, at: Date.now() });
        const ms = this.delay.min + Math.round(Math.random() * (this.delay.max - this.delay.min));
        const timer = this.later(ms, () => {
            this.pending.delete(id);
            this.grantNow(customerEmail, offerId);
        });
        this.pending.set(id, timer);
    }

    // ---- HTTP --------------------------------------------------------------------------------

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const requestId = requestIdFor(req);
        const path = (req.url ?? '/').split('?')[0]!;
        const method = req.method ?? 'GET';
        res.setHeader('X-Request-Id', requestId);
        for (const [k, v] of Object.entries(corsHeaders(req, '*'))) {
            res.setHeader(k, v);
        }
        res.on('close', () => {
            this.opts.log?.(JSON.stringify({ ts: new Date().toISOString(), method, path, status: res.writableFinished ? res.statusCode : 'dropped', requestId }));
        });
        if (method === 'OPTIONS') {
            res.writeHead(204, { 'Content-Length': '0' });
            res.end();
            return;
        }
        let raw: Buffer;
        try {
            raw = await readBody(req, 1024 * 1024);
        } catch (e) {
            if (e instanceof BodyTooLargeError) {
                res.setHeader('Connection', 'close');
                sendJson(res, 413, { code: 413, message: 'Payload too large' });
            }
            return;
        }
        const body = raw.toString('utf8');
        const parsed = body.length > 0 ? parseJson(body) : ({ ok: false } as const);

        if (path.startsWith('/__emulator/')) {
            return this.control(method, path, parsed, res);
        }

        const rec: RecordedRequest = { method, path, headers: { ...req.headers }, body, at: Date.now() };
        if (parsed.ok) {
            rec.json = parsed.value;
        }
        this.requests.push(rec);

        const fault = this.takeFault(path);
        if (fault) {
            switch (fault.kind) {
                case 'drop':
                    req.socket.destroy();
                    return;
                case 'timeout':
                    // Never answer; close() cuts the connection.
                    return;
                case 'status':
                    sendJson(res, fault.status, { code: fault.status, message: 'Emulated fault' });
                    return;
                case 'malformed': {
                    const text = '{"message": "OK", "result": {';
                    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
                    res.end(text);
                    return;
                }
                case 'slow':
                    await new Promise<void>((r) => this.later(fault.ms, r));
                    if (res.destroyed) {
                        return;
                    }
                    break;
            }
        }
        return this.route(method, path, req, parsed, res, requestId);
    }

    private takeFault(path: string): EmulatorFault | null {
        const f = this.fault;
        if (!f || (f.path !== undefined && f.path !== path)) {
            return null;
        }
        if (f.count !== undefined) {
            if (f.count <= 1) {
                this.fault = null;
            } else {
                this.fault = { ...f, count: f.count - 1 };
            }
        }
        return f;
    }

    private control(method: string, path: string, parsed: { ok: true; value: unknown } | { ok: false }, res: http.ServerResponse): void {
        const value = parsed.ok ? parsed.value : undefined;
        const obj = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
        if (method === 'GET' && path === '/__emulator/requests') {
            sendJson(res, 200, { requests: this.requests });
            return;
        }
        if (method === 'GET' && path === '/__emulator/purchases') {
            sendJson(res, 200, { purchases: this.purchases() });
            return;
        }
        if (method !== 'POST') {
            sendJson(res, 405, { code: 405, message: 'Method not allowed' });
            return;
        }
        switch (path) {
            case '/__emulator/fault': {
                if (!parsed.ok) {
                    sendJson(res, 400, { code: 400, message: 'fault must be JSON (an object or null)' });
                    return;
                }
                const f = parseFault(value);
                if (typeof f === 'string') {
                    sendJson(res, 400, { code: 400, message: f });
                    return;
                }
                this.fault = f;
                sendJson(res, 200, { ok: true, fault: f });
                return;
            }
            case '/__emulator/reset':
                this.reset();
                sendJson(res, 200, { ok: true });
                return;
            case '/__emulator/grant': {
                const email = obj.customerEmail ?? obj.email;
                if (typeof email !== 'string' || typeof obj.offerId !== 'string') {
                    sendJson(res, 400, { code: 400, message: 'customerEmail and offerId are required' });
                    return;
                }
                this.grantNow(email, obj.offerId);
                sendJson(res, 200, { ok: true });
                return;
            }
            case '/__emulator/expire-customer-tokens':
                this.expireCustomerTokens();
                sendJson(res, 200, { ok: true });
                return;
        }
        sendJson(res, 404, { code: 404, message: 'Not found' });
    }

    private cleengError(res: http.ServerResponse, status: number, message: string): void {
        const body: CleengErrorResponse = { code: status, message };
        sendJson(res, status, body);
    }

    private route(
        method: string,
        path: string,
        req: http.IncomingMessage,
        parsed: { ok: true; value: unknown } | { ok: false },
        res: http.ServerResponse,
        requestId: string,
    ): void {
        const post = method === 'POST';
        if (path === '/healthz' && method === 'GET') {
            sendJson(res, 200, { ok: true });
            return;
        }
        if (post && (path === '/roku/payment' || path === '/android/payment')) {
            return this.cleengPayment(path === '/roku/payment' ? 'roku' : 'android', req, parsed, res);
        }
        if (post && (path === '/3.0/json-rpc' || path === '/api/3.0/json-rpc')) {
            return this.jsonRpc(parsed, res);
        }
        if (post && path === '/v1/roku/receipts') {
            return this.relayReceipt(ROKU_RECEIPTS, parsed, res, requestId);
        }
        if (post && path === '/v1/android/receipts') {
            return this.relayReceipt(ANDROID_RECEIPTS, parsed, res, requestId);
        }
        if (post && path === '/v1/entitlements/check') {
            return this.relayCheck(parsed, res, requestId);
        }
        if (post && path === '/v1/nonce') {
            const n: NonceResponse = { nonce: randomBytes(18).toString('base64url'), expiresAt: Date.now() + 120_000 };
            sendJson(res, 200, n);
            return;
        }
        if (path.startsWith('/v1/')) {
            sendJson(res, 404, relayError('NOT_FOUND', requestId));
            return;
        }
        this.cleengError(res, 404, 'Not found');
    }

    /** Cleeng's `/roku/payment` and `/android/payment`: 401 bad token, 400 bad shape, 422 unknown offer/product. */
    private cleengPayment(
        store: 'roku' | 'android',
        req: http.IncomingMessage,
        parsed: { ok: true; value: unknown } | { ok: false },
        res: http.ServerResponse,
    ): void {
        if (req.headers['x-publisher-token'] !== this.publisherToken) {
            this.cleengError(res, 401, 'Invalid authentication');
            return;
        }
        if (!parsed.ok) {
            this.cleengError(res, 400, 'Invalid parameters: body must be JSON');
            return;
        }
        if (store === 'roku') {
            const shape = checkRokuPaymentShape(parsed.value);
            if (!shape.ok) {
                this.cleengError(res, 400, `Invalid parameters: ${Object.keys(shape.fields).join(', ')}`);
                return;
            }
            const p = shape.value;
            if (!this.offers.has(p.offerId)) {
                this.cleengError(res, 422, 'Offer not found');
                return;
            }
            if (p.order.code !== offerIdToRokuProductCode(p.offerId)) {
                this.cleengError(res, 422, 'Product code does not match the offer');
                return;
            }
            this.queuePurchase('roku', p.order.purchaseId, p.customerEmail, p.offerId);
        } else {
            const shape = checkAndroidPaymentShape(parsed.value);
            if (!shape.ok) {
                this.cleengError(res, 400, `Invalid parameters: ${Object.keys(shape.fields).join(', ')}`);
                return;
            }
            const p = shape.value;
            if (!this.offers.has(p.offerId) || p.receipt.productId !== p.offerId.toLowerCase()) {
                this.cleengError(res, 422, 'Offer not found');
                return;
            }
            this.queuePurchase('android', p.receipt.purchaseToken, p.customerEmail, p.offerId);
        }
        sendJson(res, 200, { message: 'OK' });
    }

    private jsonRpc(parsed: { ok: true; value: unknown } | { ok: false }, res: http.ServerResponse): void {
        const reply = (id: unknown, result: unknown, error: JsonRpcError | null): void => {
            sendJson(res, 200, { result: error ? null : result, error, id: id ?? null, jsonrpc: '2.0' });
        };
        if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
            reply(null, null, { code: -32700, message: 'Parse error' });
            return;
        }
        const call = parsed.value as { id?: unknown; method?: unknown; params?: unknown };
        const params = (typeof call.params === 'object' && call.params !== null ? call.params : {}) as Record<string, unknown>;
        const invalid = (what: string): void => reply(call.id, null, { code: CleengRpcCode.INVALID_ARGUMENTS, message: `Invalid arguments: ${what}` });
        switch (call.method) {
            case 'generateCustomerToken': {
                if (typeof params.publisherToken !== 'string' || typeof params.customerEmail !== 'string') {
                    invalid('publisherToken and customerEmail are required');
                    return;
                }
                if (params.publisherToken !== this.publisherToken) {
                    reply(call.id, null, { code: CleengRpcCode.INVALID_PUBLISHER_TOKEN, message: 'Invalid publisher token' });
                    return;
                }
                if (!EMAIL_PATTERN.test(params.customerEmail)) {
                    invalid('customerEmail');
                    return;
                }
                const token = randomBytes(24).toString('hex');
                this.customerTokens.set(token, { email: params.customerEmail, expiresAt: Date.now() + this.customerTokenTtlMs });
                reply(call.id, { token }, null);
                return;
            }
            case 'getAccessStatus': {
                if (typeof params.customerToken !== 'string' || typeof params.offerId !== 'string') {
                    invalid('customerToken and offerId are required');
                    return;
                }
                const t = this.customerTokens.get(params.customerToken);
                if (!t || t.expiresAt <= Date.now()) {
                    reply(call.id, null, { code: CleengRpcCode.INVALID_CUSTOMER_TOKEN, message: 'Invalid customer token' });
                    return;
                }
                if (!this.offers.has(params.offerId)) {
                    reply(call.id, null, { code: CleengRpcCode.OFFER_NOT_FOUND, message: 'Offer not found' });
                    return;
                }
                reply(call.id, this.accessStatus(t.email, params.offerId), null);
                return;
            }
        }
        reply(call.id, null, { code: CleengRpcCode.METHOD_NOT_FOUND, message: 'Method not found' });
    }

    private accessStatus(email: string, offerId: string): GetAccessStatusResult {
        const g = this.grants.get(this.key(email, offerId));
        if (g && g.expiresAt * 1000 > Date.now()) {
            return { accessGranted: true, grantType: 'purchase', expiresAt: g.expiresAt, purchasedDirectly: true };
        }
        return { accessGranted: false, grantType: null, expiresAt: null, purchasedDirectly: false };
    }

    /**
     * A relay route's request checked as the relay checks it (400 when invalid), for an offer the
     * emulator knows (422 otherwise); on failure the answer has been sent and undefined returned.
     */
    private relayRequest<T extends { offerId: string }>(
        parsed: { ok: true; value: unknown } | { ok: false },
        validate: (body: unknown) => Validation<T>,
        res: http.ServerResponse,
        requestId: string,
    ): T | undefined {
        const v = validateJsonBody(parsed, validate);
        if (!v.ok) {
            sendJson(res, 400, relayError('INVALID_REQUEST', requestId, v.fields));
            return undefined;
        }
        if (!this.offers.has(v.value.offerId)) {
            sendJson(res, 422, relayError('CLEENG_REJECTED', requestId));
            return undefined;
        }
        return v.value;
    }

    /** The relay's receipt routes, answered from the emulator's own state (no token involved). */
    private relayReceipt<T extends { customerEmail: string; offerId: string }>(
        route: ReceiptRoute<T>,
        parsed: { ok: true; value: unknown } | { ok: false },
        res: http.ServerResponse,
        requestId: string,
    ): void {
        const receipt = this.relayRequest(parsed, route.validate, res, requestId);
        if (!receipt) {
            return;
        }
        this.queuePurchase(route.store, route.transactionId(receipt), receipt.customerEmail, receipt.offerId);
        sendJson(res, 200, receiptAccepted(route, receipt, requestId));
    }

    private relayCheck(parsed: { ok: true; value: unknown } | { ok: false }, res: http.ServerResponse, requestId: string): void {
        const check = this.relayRequest(parsed, validateEntitlementCheck, res, requestId);
        if (!check) {
            return;
        }
        const s = this.accessStatus(check.customerEmail, check.offerId);
        const out: EntitlementCheckResponse = { accessGranted: s.accessGranted, expiresAt: s.expiresAt };
        sendJson(res, 200, out);
    }
}

/** Start the emulator on 127.0.0.1; resolves once it listens. */
export function startCleengEmulator(options: CleengEmulatorOptions = {}): Promise<CleengEmulator> {
    const emu = new Emulator(options);
    return new Promise((resolve, reject) => {
        emu.server.once('error', reject);
        emu.server.listen(options.port ?? 0, '127.0.0.1', () => {
            emu.server.off('error', reject);
            const port = (emu.server.address() as AddressInfo).port;
            let closing: Promise<void> | undefined;
            resolve({
                url: `http://127.0.0.1:${port}`,
                port,
                requests: emu.requests,
                setFault: (f) => emu.setFault(f),
                grantNow: (e, o) => emu.grantNow(e, o),
                hasAccess: (e, o) => emu.hasAccess(e, o),
                purchases: () => emu.purchases(),
                expireCustomerTokens: () => emu.expireCustomerTokens(),
                reset: () => emu.reset(),
                close: () => {
                    closing ??= new Promise<void>((r) => {
                        emu.stopTimers();
                        emu.server.close(() => r());
                        emu.server.closeAllConnections();
                    });
                    return closing;
                },
            });
        });
    });
}
