/** Shared helpers for the relay and emulator tests (not a test file itself). */
import { spawn, ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { goldenReceiptRequest } from '../../contract/generated';
import type { RelayConfigInput, RelayHandle } from '../../relay';
import { startCleengDouble, CleengDouble } from './cleeng-double';
import { startTestRedis, TestRedis } from './redis-server';

const ROOT = path.resolve(__dirname, '../..');

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

/** The relay as `npm run relay` runs it: relay/main.ts in a process of its own, configured by `env` only. */
export interface RelayProcess {
    child: ChildProcess;
    /** Everything it wrote (stdout and stderr). */
    out(): string;
    exited: Promise<number | null>;
    /** Its URL once it logged "relay listening" (rejects if it exits or takes over 90 s). */
    listening(): Promise<string>;
    /** SIGKILL it if it still runs, and wait for the exit. */
    kill(): Promise<void>;
}

export function spawnRelay(env: Record<string, string>, nodeArgs: string[] = []): RelayProcess {
    const child = spawn(process.execPath, [...nodeArgs, '--require', 'ts-node/register', 'relay/main.ts'], {
        cwd: ROOT,
        // Only the given variables (no inherited secrets); types were checked when this file compiled.
        env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: 'true', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let url: Promise<string> | undefined;
    return {
        child,
        out: () => out,
        exited,
        listening() {
            url ??= (async () => {
                if (!(await waitFor(() => /"msg":"relay listening"/.test(out) || child.exitCode !== null, 90_000))) {
                    throw new Error(`relay did not start: ${out}`);
                }
                const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
                if (!m) {
                    throw new Error(`relay did not start: ${out}`);
                }
                return m[1]!;
            })();
            return url;
        },
        async kill() {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGKILL');
            }
            await exited;
        },
    };
}

/**
 * For a describe block: a redis-server and the counting Cleeng stand-in (started before its tests,
 * stopped after them with every relay the tests registered), and receipts whose emails are kept for
 * the leak checks.
 */
export function onRedisWithCleeng(publisherToken: string, secret: string) {
    const f = {
        redis: undefined as unknown as TestRedis,
        cleeng: undefined as unknown as CleengDouble,
        /** In-process relays and relay processes to stop after the block. */
        relays: [] as RelayHandle[],
        processes: [] as RelayProcess[],
        emails: [] as string[],
        tracked(over: Parameters<typeof receipt>[0] = {}): ReturnType<typeof receipt> {
            const r = receipt(over);
            f.emails.push(r.customerEmail);
            return r;
        },
        /** An in-process relay's config on this Redis and stand-in: no rate limits, no log lines, then `over`. */
        relayConfig(over: Partial<RelayConfigInput> = {}): RelayConfigInput {
            return {
                publisherToken,
                secret,
                cleengRokuPaymentUrl: `${f.cleeng.url}/roku/payment`,
                cleengJsonRpcUrl: `${f.cleeng.url}/3.0/json-rpc`,
                redisUrl: f.redis.url,
                port: 0,
                rateLimit: { perIp: 0, perEmail: 0 },
                logSink: () => {},
                ...over,
            };
        },
    };
    before(async () => {
        f.redis = await startTestRedis();
        f.cleeng = await startCleengDouble({ publisherToken });
    });
    after(async () => {
        await Promise.all(f.processes.map((p) => p.kill()));
        await Promise.all(f.relays.map((r) => r.close()));
        await f.cleeng.close();
        await f.redis.stop();
    });
    return f;
}
