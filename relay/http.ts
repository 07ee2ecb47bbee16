/**
 * Small HTTP helpers shared by the relay and the Cleeng emulator: body reading with a size limit,
 * JSON answers, request IDs, CORS, and a minimal outgoing client (node:http / node:https).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { randomUUID } from 'node:crypto';

export class BodyTooLargeError extends Error {
    constructor() {
        super('body too large');
    }
}

/**
 * Read a request body, refusing more than `limit` bytes (checked on Content-Length first, then
 * while streaming). On overflow the rest of the body is not read: the caller answers 413 with
 * `Connection: close`.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) {
            req.pause();
            reject(new BodyTooLargeError());
            return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        req.on('data', (chunk: Buffer) => {
            if (done) {
                return;
            }
            size += chunk.length;
            if (size > limit) {
                done = true;
                req.pause();
                reject(new BodyTooLargeError());
                return;
            }
            chunks.push(chunk);
        });
        req.on('end', () => {
            if (!done) {
                done = true;
                resolve(Buffer.concat(chunks));
            }
        });
        req.on('error', (err) => {
            if (!done) {
                done = true;
                reject(err);
            }
        });
        req.on('aborted', () => {
            if (!done) {
                done = true;
                reject(new Error('request aborted'));
            }
        });
    });
}

/** `application/json`, optionally with parameters such as `; charset=utf-8`. */
export function isJsonContentType(value: string | undefined): boolean {
    if (!value) {
        return false;
    }
    const type = value.split(';')[0]!.trim().toLowerCase();
    return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** Parse JSON, returning `undefined` (not throwing) on malformed text. */
export function parseJson(buf: Buffer | string): { ok: true; value: unknown } | { ok: false } {
    try {
        return { ok: true, value: JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8')) };
    } catch {
        return { ok: false };
    }
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/** Echo a well-formed incoming `X-Request-Id`, or generate one. */
export function requestIdFor(req: http.IncomingMessage): string {
    const incoming = req.headers['x-request-id'];
    if (typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)) {
        return incoming;
    }
    return randomUUID();
}

export function sendJson(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string | number> = {},
): void {
    if (res.headersSent || res.destroyed) {
        return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
    });
    res.end(text);
}

export const CORS_ALLOW_HEADERS = 'Content-Type, Authorization, X-Publisher-Token, X-Request-Id';
export const CORS_ALLOW_METHODS = 'GET, POST, OPTIONS';

/**
 * CORS headers for an answer. `allowed` is `'*'` (any origin) or a list of exact origins; an
 * empty list means no CORS headers at all.
 */
export function corsHeaders(req: http.IncomingMessage, allowed: '*' | string[]): Record<string, string> {
    if (allowed !== '*' && allowed.length === 0) {
        return {};
    }
    const origin = req.headers.origin;
    let allowOrigin: string | undefined;
    if (allowed === '*') {
        allowOrigin = '*';
    } else if (typeof origin === 'string' && allowed.includes(origin)) {
        allowOrigin = origin;
    }
    if (!allowOrigin) {
        return {};
    }
    const h: Record<string, string> = {
        'Access-Control-Allow-Origin': allowOrigin,
        'Access-Control-Allow-Methods': CORS_ALLOW_METHODS,
        'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS,
        'Access-Control-Expose-Headers': 'X-Request-Id, Retry-After',
        'Access-Control-Max-Age': '600',
    };
    if (allowOrigin !== '*') {
        h.Vary = 'Origin';
    }
    return h;
}

// ---------------------------------------------------------------------------------------------
// Outgoing requests
// ---------------------------------------------------------------------------------------------

export class UpstreamTimeoutError extends Error {
    constructor() {
        super('upstream timed out');
    }
}

export interface OutgoingRequest {
    method: 'GET' | 'POST';
    url: string;
    headers?: Record<string, string>;
    body?: string;
    /** Whole exchange (connect, send, read the full answer). */
    timeoutMs: number;
    agents?: { http: http.Agent; https: https.Agent };
    signal?: AbortSignal;
    /** Refuse answers longer than this (bytes). Default 1 MiB. */
    maxResponseBytes?: number;
}

export interface IncomingAnswer {
    status: number;
    headers: http.IncomingHttpHeaders;
    text: string;
}

/** One HTTP exchange. Rejects on network errors, timeouts (UpstreamTimeoutError) and aborts. */
export function httpRequest(opts: OutgoingRequest): Promise<IncomingAnswer> {
    return new Promise((resolve, reject) => {
        const url = new URL(opts.url);
        const isHttps = url.protocol === 'https:';
        if (!isHttps && url.protocol !== 'http:') {
            reject(new Error('unsupported protocol'));
            return;
        }
        if (opts.signal?.aborted) {
            reject(new Error('aborted'));
            return;
        }
        const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
        if (opts.body !== undefined) {
            headers['Content-Length'] = Buffer.byteLength(opts.body);
        }
        const mod = isHttps ? https : http;
        const agent = opts.agents ? (isHttps ? opts.agents.https : opts.agents.http) : undefined;
        const maxBytes = opts.maxResponseBytes ?? 1024 * 1024;
        let settled = false;
        const finish = (err: Error | null, answer?: IncomingAnswer): void => {
            if (settled) {
                return;
            }
            settled = true;
            clearTimeout(timer);
            opts.signal?.removeEventListener('abort', onAbort);
            if (err) {
                reject(err);
            } else {
                resolve(answer!);
            }
        };
        const req = mod.request(
            url,
            { method: opts.method, headers, agent },
            (res) => {
                const chunks: Buffer[] = [];
                let size = 0;
                res.on('data', (c: Buffer) => {
                    size += c.length;
                    if (size > maxBytes) {
                        req.destroy(new Error('upstream answer too large'));
                        return;
                    }
                    chunks.push(c);
                });
                res.on('end', () =>
                    finish(null, {
                        status: res.statusCode ?? 0,
                        headers: res.headers,
                        text: Buffer.concat(chunks).toString('utf8'),
                    }),
                );
                res.on('error', (e) => finish(e));
                res.on('aborted', () => finish(new Error('upstream answer aborted')));
            },
        );
        const timer = setTimeout(() => {
            const e = new UpstreamTimeoutError();
            req.destroy(e);
            finish(e);
        }, opts.timeoutMs);
        const onAbort = (): void => {
            const e = new Error('aborted');
            req.destroy(e);
            finish(e);
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        req.on('error', (e) => finish(e));
        if (opts.body !== undefined) {
            req.end(opts.body);
        } else {
            req.end();
        }
    });
}

/** A sleep that ends early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(new Error('aborted'));
            return;
        }
        const t = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = (): void => {
            clearTimeout(t);
            reject(new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}
