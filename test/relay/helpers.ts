/** Shared helpers for the relay and emulator tests (not a test file itself). */
import * as http from 'node:http';
import { goldenReceiptRequest } from '../../contract/generated';

export interface Answer {
    status: number;
    headers: http.IncomingHttpHeaders;
    text: string;
    json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
    method?: string;
    headers?: Record<string, string>;
    /** An object is sent as JSON (with Content-Type application/json unless given); a string as is. */
    body?: unknown;
    timeoutMs?: number;
}

/** One request on a fresh connection (no pooling, so nothing lingers after the test). */
export function call(baseUrl: string, path: string, opts: CallOptions = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const url = new URL(path, baseUrl);
        const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
        let payload: string | undefined;
        if (opts.body !== undefined) {
            payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
            if (typeof opts.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
                headers['Content-Type'] = 'application/json';
            }
            headers['Content-Length'] = Buffer.byteLength(payload);
        }
        const req = http.request(url, { method: opts.method ?? (payload !== undefined ? 'POST' : 'GET'), headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json: unknown;
                try {
                    json = JSON.parse(text);
                } catch {
                    json = undefined;
                }
                resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
            });
            res.on('error', reject);
        });
        req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
        req.on('error', reject);
        req.end(payload);
    });
}

export function post(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return call(baseUrl, path, { method: 'POST', body, headers });
}

let seq = 0;
/**
 * A fresh, valid receipt for the relay / Cleeng: the contract's golden body
 * (contract/examples/relay/receipt-request.json) with a unique purchaseId and email unless given.
 */
export function receipt(over: { email?: string; offerId?: string; purchaseId?: string } = {}) {
    seq++;
    const golden = goldenReceiptRequest();
    const offerId = over.offerId ?? golden.offerId;
    return {
        customerEmail: over.email ?? `viewer${seq}.${process.pid}@example.com`,
        offerId,
        order: {
            amount: golden.order.amount,
            code: offerId.replace('_', '-'),
            purchaseId: over.purchaseId ?? `tx-${process.pid}-${seq}-${Math.random().toString(36).slice(2, 10)}`,
            qty: golden.order.qty,
            total: golden.order.total,
        },
    };
}

/** Poll `check` until it returns true or `deadlineMs` passes (functional wait, not a speed check). */
export async function waitFor(check: () => Promise<boolean> | boolean, deadlineMs = 5000, everyMs = 25): Promise<boolean> {
    const end = Date.now() + deadlineMs;
    for (;;) {
        if (await check()) {
            return true;
        }
        if (Date.now() > end) {
            return false;
        }
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** Every secret from `secrets` (length ≥ 4) found in any of `lines`. */
export function leaks(lines: string[], secrets: string[]): string[] {
    const all = lines.join('\n');
    return secrets.filter((s) => s.length >= 4 && all.includes(s));
}
