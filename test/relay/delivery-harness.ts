/**
 * Pieces for the exactly-once tests and the relay benchmark (not a test file itself):
 * - `sendLikeTheChannel`: posts a receipt until the relay gives a final answer, retrying as the
 *   channel does (backoff on 5xx and network errors and timeouts, Retry-After honoured);
 * - `startRoundRobinProxy`: a loopback HTTP proxy that hands each request to the next backend,
 *   appending the client's address to X-Forwarded-For as a load balancer does.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SendResult {
    status: number;
    attempts: number;
    /** Status of every attempt (0 = timeout or network error). */
    statuses: number[];
    json: unknown;
}

function once(url: string, body: string, timeoutMs: number, agent: http.Agent | false): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
        req.on('error', reject);
        req.end(body);
    });
}

/**
 * Send until a final answer (2xx, or a 4xx other than 408/429), as the channel's outbox does.
 * Gives up only after `ceilingMs` (the channel never does; a test needs a ceiling).
 */
export async function sendLikeTheChannel(
    url: string,
    receipt: unknown,
    opts: {
        timeoutMs?: number;
        /** Each attempt after a client timeout waits twice as long, up to this (default: timeoutMs, no growth). */
        maxTimeoutMs?: number;
        ceilingMs?: number;
        agent?: http.Agent | false;
        baseDelayMs?: number;
        maxDelayMs?: number;
    } = {},
): Promise<SendResult> {
    const body = JSON.stringify(receipt);
    const end = Date.now() + (opts.ceilingMs ?? 120_000);
    const statuses: number[] = [];
    let timeoutMs = opts.timeoutMs ?? 10_000;
    for (let n = 1; ; n++) {
        let status = 0;
        let retryAfterMs: number | undefined;
        try {
            const a = await once(url, body, timeoutMs, opts.agent ?? false);
            status = a.status;
            statuses.push(status);
            const final = (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 408 && status !== 429);
            if (final) {
                let json: unknown;
                try {
                    json = JSON.parse(a.text);
                } catch {
                    json = undefined;
                }
                return { status, attempts: n, statuses, json };
            }
            const ra = Number(a.headers['retry-after']);
            if (Number.isFinite(ra) && ra >= 0) {
                retryAfterMs = ra * 1000;
            }
        } catch {
            statuses.push(0);
            timeoutMs = Math.min(Math.max(opts.maxTimeoutMs ?? timeoutMs, timeoutMs), timeoutMs * 2);
        }
        if (Date.now() > end) {
            return { status, attempts: n, statuses, json: undefined };
        }
        const backoff = Math.min(opts.maxDelayMs ?? 2_000, (opts.baseDelayMs ?? 200) * 2 ** Math.min(n - 1, 6));
        await sleep(retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2));
    }
}

export interface RoundRobinProxy {
    url: string;
    /** Requests handed to each backend, by index. */
    handed: number[];
    close(): Promise<void>;
}

/** A loopback round-robin proxy in front of `backends` (base URLs). */
export async function startRoundRobinProxy(backends: string[]): Promise<RoundRobinProxy> {
    let next = 0;
    const handed = backends.map(() => 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    const server = http.createServer((req, res) => {
        const i = next++ % backends.length;
        handed[i]!++;
        const target = new URL(req.url ?? '/', backends[i]);
        const xff = req.headers['x-forwarded-for'];
        const headers = { ...req.headers, 'x-forwarded-for': [xff, req.socket.remoteAddress].filter(Boolean).join(', ') };
        const up = http.request(target, { method: req.method, headers, agent }, (ur) => {
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            ur.pipe(res);
        });
        up.on('error', () => {
            if (!res.headersSent) {
                res.writeHead(502, { 'Content-Type': 'application/json' });
            }
            res.end('{"error":{"code":"BAD_GATEWAY"}}');
        });
        res.on('close', () => {
            if (!res.writableFinished) {
                up.destroy();
            }
        });
        req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        handed,
        close: () =>
            new Promise<void>((r) => {
                server.close(() => r());
                server.closeAllConnections();
                agent.destroy();
            }),
    };
}
