/**
 * A local fake of Cleeng, for tests and for running the channel with no Cleeng account. It knows
 * only Cleeng's documented contract (contract/cleeng/), nothing of the relay or the channel.
 * Listens on 127.0.0.1 only. Speaks:
 *   - `POST /roku/payment` and `POST /android/payment` with X-Publisher-Token;
 *   - JSON-RPC 3.0 at `/3.0/json-rpc` and `/api/3.0/json-rpc` (generateCustomerToken, getAccessStatus);
 *   - control routes under `/__emulator/` (fault, requests, purchases, grant, grant-delay, reset, …).
 * Never logs tokens or emails: the log line is method, path, status, request id.
 */
import * as http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { refusedFields, RPC, schemas, type GetAccessStatusResult, type JsonRpcError } from './contract';

export type EmulatorFault = { path?: string; count?: number } & (
    | { kind: 'status'; status: number }
    | { kind: 'timeout' }
    | { kind: 'drop' }
    | { kind: 'malformed' }
    | { kind: 'slow'; ms: number }
    /** A JSON-RPC call answers this Cleeng error code (HTTP 200, `{result: null, error}`). */
    | { kind: 'rpc-error'; code: number }
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

export type GrantDelay = number | { min: number; max: number };

export interface CleengEmulatorOptions {
    /** 0 (default) picks a free port. */
    port?: number;
    /** The only publisher token accepted. Default `emulator-publisher-token`. */
    publisherToken?: string;
    /** Offer IDs that exist. Default S123123123_US, S123123124_US, S123123125_US. */
    offers?: string[];
    /** Delay between a queued receipt and the grant: fixed ms or a random range. Default 2000–4000. Max 30000. */
    grantDelayMs?: GrantDelay;
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
    /** Change the delay between a queued receipt and its grant (receipts queued later). */
    setGrantDelay(delay: GrantDelay): void;
    /** Grant access now (skipping any delay). */
    grantNow(email: string, offerId: string): void;
    /** Is access granted right now? */
    hasAccess(email: string, offerId: string): boolean;
    /** Receipts accepted, one per store transaction. */
    purchases(): EmulatorPurchase[];
    /** Resolves with the purchases once `n` are recorded (rejects after `timeoutMs`, default 60 s). */
    waitForPurchases(n: number, timeoutMs?: number): Promise<EmulatorPurchase[]>;
    /** Resolves with the requests to `path` once `n` have arrived (rejects after `timeoutMs`, default 60 s). */
    waitForRequests(path: string, n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
    /** Invalidate every customer token issued so far (next getAccessStatus answers error 1). */
    expireCustomerTokens(): void;
    /** Forget requests, fault, purchases, grants, pending grants and customer tokens. */
    reset(): void;
    close(): Promise<void>;
}

export const DEFAULT_EMULATOR_OFFERS = ['S123123123_US', 'S123123124_US', 'S123123125_US'];
export const DEFAULT_EMULATOR_PUBLISHER_TOKEN = 'emulator-publisher-token';
export const MAX_GRANT_DELAY_MS = 30_000;

const FAULT_KINDS = new Set(['status', 'timeout', 'drop', 'malformed', 'slow', 'rpc-error']);
const RPC_PATHS = new Set(['/3.0/json-rpc', '/api/3.0/json-rpc']);
const BODY_LIMIT = 1024 * 1024;

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
        return `kind must be one of ${[...FAULT_KINDS].join(', ')}`;
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
    if (f.kind === 'rpc-error' && (typeof f.code !== 'number' || !Number.isInteger(f.code))) {
        return 'code must be an integer';
    }
    const out: Record<string, unknown> = { kind: f.kind };
    for (const k of ['path', 'count', 'status', 'ms', 'code']) {
        if (f[k] !== undefined) {
            out[k] = f[k];
        }
    }
    return out as EmulatorFault;
}

export function parseGrantDelay(v: GrantDelay | undefined): { min: number; max: number } {
    const d = v === undefined ? { min: 2000, max: 4000 } : typeof v === 'number' ? { min: v, max: v } : v;
    if (!(d.min >= 0 && d.max >= d.min && d.max <= MAX_GRANT_DELAY_MS)) {
        throw new Error(`grant delay must satisfy 0 ≤ min ≤ max ≤ ${MAX_GRANT_DELAY_MS}`);
    }
    return { min: d.min, max: d.max };
}

/** Roku does not allow `_` in product IDs: Cleeng's offer `S123123123_US` is Roku product `S123123123-US`. */
function rokuProductCode(offerId: string): string {
    return offerId.replace(/_/g, '-');
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > BODY_LIMIT) {
                req.removeAllListeners('data');
                req.resume();
                resolve('too-large');
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

type Parsed = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): Parsed {
    if (text.length === 0) {
        return { ok: false };
    }
    try {
        return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
        return { ok: false };
    }
}

type Waiter = { check: () => boolean; resolve: () => void };

class Emulator {
    readonly requests: RecordedRequest[] = [];
    private fault: EmulatorFault | null = null;
    private readonly grants = new Map<string, { expiresAt: number }>();
    private readonly purchasesById = new Map<string, EmulatorPurchase>();
    private readonly pending = new Map<string, NodeJS.Timeout>();
    private readonly customerTokens = new Map<string, { email: string; expiresAt: number }>();
    private readonly timers = new Set<NodeJS.Timeout>();
    private waiters: Waiter[] = [];
    private readonly publisherToken: string;
    private readonly offers: Set<string>;
    private delay: { min: number; max: number };
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
                if (!res.headersSent) {
                    sendJson(res, 500, { code: 500, message: 'Internal error' });
                }
            });
        });
    }

    // ---- state -------------------------------------------------------------------------------

    private key(email: string, offerId: string): string {
        return `${email.trim().toLowerCase()}|${offerId}`;
    }

    setFault(f: EmulatorFault | null): void {
        const parsed = parseFault(f);
        if (typeof parsed === 'string') {
            throw new Error(parsed);
        }
        this.fault = parsed;
    }

    setGrantDelay(d: GrantDelay): void {
        this.delay = parseGrantDelay(d);
    }

    grantNow(email: string, offerId: string): void {
        this.grants.set(this.key(email, offerId), { expiresAt: Math.floor((Date.now() + this.accessDurationMs) / 1000) });
        this.changed();
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
            this.timers.delete(t);
        }
        this.pending.clear();
        this.customerTokens.clear();
    }

    /** Resolves when `check` holds (checked now and after every change), or rejects after `timeoutMs`. */
    until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
        if (check()) {
            return Promise.resolve();
        }
        return new Promise((resolve, reject) => {
            const w: Waiter = {
                check,
                resolve: () => {
                    clearTimeout(t);
                    resolve();
                },
            };
            const t = setTimeout(() => {
                this.waiters = this.waiters.filter((x) => x !== w);
                reject(new Error(`Cleeng fake: timed out after ${timeoutMs} ms waiting for ${what()}`));
            }, timeoutMs);
            t.unref();
            this.waiters.push(w);
        });
    }

    private changed(): void {
        const ready = this.waiters.filter((w) => w.check());
        if (ready.length > 0) {
            this.waiters = this.waiters.filter((w) => !ready.includes(w));
            ready.forEach((w) => w.resolve());
        }
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
     * email moves the purchase (the old email loses this offer), as Cleeng documents.
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

    private cors(req: http.IncomingMessage, res: http.ServerResponse): void {
        // The simulator's roUrlTransfer is browser XHR: without these the channel cannot reach the fake.
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', String(req.headers['access-control-request-headers'] ?? 'Content-Type, X-Publisher-Token, Authorization, X-Request-Id'));
        res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After');
        res.setHeader('Access-Control-Max-Age', '600');
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const incoming = req.headers['x-request-id'];
        const requestId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
        const path = (req.url ?? '/').split('?')[0]!;
        const method = req.method ?? 'GET';
        res.setHeader('X-Request-Id', requestId);
        this.cors(req, res);
        res.on('close', () => {
            this.opts.log?.(JSON.stringify({ ts: new Date().toISOString(), method, path, status: res.writableFinished ? res.statusCode : 'dropped', requestId }));
        });
        if (method === 'OPTIONS') {
            res.writeHead(204, { 'Content-Length': '0', 'Access-Control-Allow-Headers': 'Content-Type, X-Publisher-Token, Authorization, X-Request-Id' });
            res.end();
            return;
        }
        const raw = await readBody(req);
        if (raw === 'too-large') {
            res.setHeader('Connection', 'close');
            sendJson(res, 413, { code: 413, message: 'Payload too large' });
            return;
        }
        const body = raw.toString('utf8');
        const parsed = parseJson(body);

        if (path.startsWith('/__emulator/')) {
            return this.control(method, path, parsed, res);
        }

        const rec: RecordedRequest = { method, path, headers: { ...req.headers }, body, at: Date.now() };
        if (parsed.ok) {
            rec.json = parsed.value;
        }
        this.requests.push(rec);
        this.changed();

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
                case 'rpc-error': {
                    const id = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? (parsed.value as { id?: unknown }).id : null;
                    sendJson(res, 200, { result: null, error: { code: fault.code, message: 'Emulated fault' }, id: id ?? null, jsonrpc: '2.0' });
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
        this.route(method, path, req, parsed, res);
    }

    private takeFault(path: string): EmulatorFault | null {
        const f = this.fault;
        if (!f || (f.path !== undefined && f.path !== path)) {
            return null;
        }
        if (f.kind === 'rpc-error' && !RPC_PATHS.has(path)) {
            return null;
        }
        if (f.count !== undefined) {
            this.fault = f.count <= 1 ? null : { ...f, count: f.count - 1 };
        }
        return f;
    }

    private control(method: string, path: string, parsed: Parsed, res: http.ServerResponse): void {
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
        if (method === 'GET' && path === '/__emulator/health') {
            sendJson(res, 200, { ok: true });
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
            case '/__emulator/grant-delay': {
                try {
                    const d = obj.ms ?? (obj.min !== undefined ? { min: obj.min, max: obj.max ?? obj.min } : undefined);
                    if (d === undefined) {
                        throw new Error('give {ms} or {min, max}');
                    }
                    this.setGrantDelay(d as GrantDelay);
                } catch (e) {
                    sendJson(res, 400, { code: 400, message: (e as Error).message });
                    return;
                }
                sendJson(res, 200, { ok: true, grantDelayMs: this.delay });
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

    private cleengError(res: http.ServerResponse, status: 400 | 401 | 404 | 422 | 500, message: string): void {
        sendJson(res, status, { code: status, message });
    }

    private route(method: string, path: string, req: http.IncomingMessage, parsed: Parsed, res: http.ServerResponse): void {
        const post = method === 'POST';
        if (post && (path === '/roku/payment' || path === '/android/payment')) {
            this.payment(path === '/roku/payment' ? 'roku' : 'android', req, parsed, res);
            return;
        }
        if (post && RPC_PATHS.has(path)) {
            this.jsonRpc(parsed, res);
            return;
        }
        this.cleengError(res, 404, 'Not found');
    }

    /** `/roku/payment`, `/android/payment`: 401 bad token, 400 bad shape, 422 unknown offer or product. */
    private payment(store: 'roku' | 'android', req: http.IncomingMessage, parsed: Parsed, res: http.ServerResponse): void {
        if (req.headers['x-publisher-token'] !== this.publisherToken) {
            this.cleengError(res, 401, 'Invalid authentication');
            return;
        }
        if (!parsed.ok) {
            this.cleengError(res, 400, 'Invalid parameters: body must be JSON');
            return;
        }
        if (store === 'roku') {
            if (!schemas.rokuPayment(parsed.value)) {
                this.cleengError(res, 400, `Invalid parameters: ${refusedFields(schemas.rokuPayment.errors).join(', ')}`);
                return;
            }
            const p = parsed.value;
            if (!this.offers.has(p.offerId)) {
                this.cleengError(res, 422, 'Offer not found');
                return;
            }
            if (p.order.code !== rokuProductCode(p.offerId)) {
                this.cleengError(res, 422, 'Product code does not match the offer');
                return;
            }
            this.queuePurchase('roku', p.order.purchaseId, p.customerEmail, p.offerId);
        } else {
            if (!schemas.androidPayment(parsed.value)) {
                this.cleengError(res, 400, `Invalid parameters: ${refusedFields(schemas.androidPayment.errors).join(', ')}`);
                return;
            }
            const p = parsed.value;
            if (!this.offers.has(p.offerId) || p.receipt.productId !== p.offerId.toLowerCase()) {
                this.cleengError(res, 422, 'Offer not found');
                return;
            }
            this.queuePurchase('android', p.receipt.purchaseToken, p.customerEmail, p.offerId);
        }
        sendJson(res, 200, { message: 'OK' });
        this.changed();
    }

    private jsonRpc(parsed: Parsed, res: http.ServerResponse): void {
        const reply = (id: unknown, result: unknown, error: JsonRpcError | null): void => {
            sendJson(res, 200, { result: error ? null : result, error, id: id ?? null, jsonrpc: '2.0' });
        };
        if (!parsed.ok || !schemas.rpcRequest(parsed.value)) {
            reply(null, null, RPC.PARSE_ERROR);
            return;
        }
        const call = parsed.value;
        switch (call.method) {
            case 'generateCustomerToken': {
                const p = call.params;
                // A wrong token is refused before the other arguments are looked at.
                if (typeof p.publisherToken === 'string' && p.publisherToken !== this.publisherToken) {
                    reply(call.id, null, RPC.INVALID_PUBLISHER_TOKEN);
                    return;
                }
                if (!schemas.generateCustomerTokenParams(p)) {
                    reply(call.id, null, RPC.TOKEN_INVALID_ARGUMENTS);
                    return;
                }
                const token = randomBytes(24).toString('hex');
                this.customerTokens.set(token, { email: p.customerEmail, expiresAt: Date.now() + this.customerTokenTtlMs });
                reply(call.id, { token }, null);
                return;
            }
            case 'getAccessStatus': {
                const p = call.params;
                if (!schemas.getAccessStatusParams(p)) {
                    reply(call.id, null, RPC.ACCESS_INVALID_ARGUMENTS);
                    return;
                }
                const t = this.customerTokens.get(p.customerToken);
                if (!t || t.expiresAt <= Date.now()) {
                    reply(call.id, null, RPC.INVALID_CUSTOMER_TOKEN);
                    return;
                }
                if (!this.offers.has(p.offerId)) {
                    reply(call.id, null, RPC.OFFER_NOT_FOUND);
                    return;
                }
                reply(call.id, this.accessStatus(t.email, p.offerId), null);
                return;
            }
        }
        reply(call.id, null, RPC.METHOD_NOT_FOUND);
    }

    private accessStatus(email: string, offerId: string): GetAccessStatusResult {
        const g = this.grants.get(this.key(email, offerId));
        if (g && g.expiresAt * 1000 > Date.now()) {
            return { accessGranted: true, grantType: 'purchase', expiresAt: g.expiresAt, purchasedDirectly: true };
        }
        return { accessGranted: false, grantType: null, expiresAt: null, purchasedDirectly: false };
    }
}

/** Start the fake on 127.0.0.1; resolves once it listens. */
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
                setGrantDelay: (d) => emu.setGrantDelay(d),
                grantNow: (e, o) => emu.grantNow(e, o),
                hasAccess: (e, o) => emu.hasAccess(e, o),
                purchases: () => emu.purchases(),
                waitForPurchases: async (n, timeoutMs = 60_000) => {
                    await emu.until(
                        () => emu.purchases().length >= n,
                        timeoutMs,
                        () => `${n} purchase(s); have ${emu.purchases().length} after ${emu.requests.map((r) => `${r.method} ${r.path}`).join(', ') || 'no request'}`,
                    );
                    return emu.purchases();
                },
                waitForRequests: async (path, n, timeoutMs = 60_000) => {
                    const on = (): RecordedRequest[] => emu.requests.filter((r) => r.path === path);
                    await emu.until(
                        () => on().length >= n,
                        timeoutMs,
                        () => `${n} request(s) to ${path}; have ${on().length}`,
                    );
                    return on();
                },
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
