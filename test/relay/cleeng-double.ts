/**
 * A counting stand-in for Cleeng, written from Cleeng's documented contract only (shared notes:
 * `POST /roku/payment` with `X-Publisher-Token` → 200 `{"message":"OK"}`; JSON-RPC 3.0
 * `generateCustomerToken` / `getAccessStatus`). It imports nothing from the relay. It counts every
 * receipt post per purchaseId the moment the body has arrived, whether or not the caller stays for
 * the answer (as a real server would process it), and can answer late. `startCleengDoubleProcess` runs it
 * in a process of its own. Not a test file itself.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface CleengDouble {
    url: string;
    /** purchaseId → number of receipt posts that arrived. */
    posts: Map<string, number>;
    /** JSON-RPC method → number of calls. */
    rpc: Map<string, number>;
    /** Answer receipts after this many ms (changeable at any time). */
    answerDelayMs: number;
    close(): Promise<void>;
}

export async function startCleengDouble(opts: { publisherToken: string; answerDelayMs?: number }): Promise<CleengDouble> {
    const posts = new Map<string, number>();
    const rpcCalls = new Map<string, number>();
    const grants = new Set<string>(); // `${email}|${offer}`
    const tokens = new Map<string, string>(); // customer token → email
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
            let body: Record<string, unknown> = {};
            try {
                body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
                res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"code":400,"message":"Invalid parameters"}');
                return;
            }
            const json = (status: number, v: unknown): void => {
                if (!res.destroyed) {
                    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(v));
                }
            };
            if (req.url === '/roku/payment' && req.method === 'POST') {
                if (req.headers['x-publisher-token'] !== opts.publisherToken) {
                    json(401, { code: 401, message: 'Invalid authentication' });
                    return;
                }
                const order = body.order as { purchaseId?: string } | undefined;
                const pid = String(order?.purchaseId ?? '');
                posts.set(pid, (posts.get(pid) ?? 0) + 1);
                grants.add(`${String(body.customerEmail).toLowerCase()}|${String(body.offerId)}`);
                const t = setTimeout(() => json(200, { message: 'OK' }), double.answerDelayMs);
                res.on('close', () => clearTimeout(t));
                return;
            }
            if (req.url === '/3.0/json-rpc' && req.method === 'POST') {
                const params = (body.params ?? {}) as Record<string, unknown>;
                rpcCalls.set(String(body.method), (rpcCalls.get(String(body.method)) ?? 0) + 1);
                const rpc = (result: unknown, error: unknown = null): void => json(200, { result, error, id: body.id ?? null, jsonrpc: '2.0' });
                if (body.method === 'generateCustomerToken') {
                    if (params.publisherToken !== opts.publisherToken) {
                        rpc(null, { code: 3, message: 'Invalid publisher token' });
                        return;
                    }
                    const token = randomBytes(12).toString('hex');
                    tokens.set(token, String(params.customerEmail).toLowerCase());
                    rpc({ token });
                    return;
                }
                if (body.method === 'getAccessStatus') {
                    const email = tokens.get(String(params.customerToken));
                    if (!email) {
                        rpc(null, { code: 1, message: 'Invalid customer token' });
                        return;
                    }
                    const granted = grants.has(`${email}|${String(params.offerId)}`);
                    rpc({ accessGranted: granted, grantType: granted ? 'purchase' : null, expiresAt: granted ? Math.floor(Date.now() / 1000) + 86400 : null, purchasedDirectly: granted });
                    return;
                }
                rpc(null, { code: -32601, message: 'Method not found' });
                return;
            }
            json(404, { code: 404, message: 'Not found' });
        });
    });
    server.keepAliveTimeout = 10_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const double: CleengDouble = {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        posts,
        rpc: rpcCalls,
        answerDelayMs: opts.answerDelayMs ?? 0,
        close: () =>
            new Promise<void>((r) => {
                server.close(() => r());
                server.closeAllConnections();
            }),
    };
    return double;
}

/** purchaseIds in `ids` that Cleeng never got, and those it got more than once. */
export function deliveryCounts(double: { posts: Map<string, number> }, ids: string[]): { lost: string[]; doubled: string[] } {
    return {
        lost: ids.filter((id) => !double.posts.has(id)),
        doubled: ids.filter((id) => (double.posts.get(id) ?? 0) > 1),
    };
}

/** The stand-in in a process of its own, as Cleeng is: its answer delay is not the relay's or the clients' event loop. */
export interface CleengDoubleProcess {
    url: string;
    pid: number | undefined;
    /** purchaseId → receipt posts that arrived, as counted in the stand-in's process. */
    posts(): Promise<Map<string, number>>;
    close(): Promise<void>;
}

type DoubleMessage = { kind: 'ready'; url: string } | { kind: 'posts'; posts: [string, number][] };

export async function startCleengDoubleProcess(opts: { publisherToken: string; answerDelayMs?: number }): Promise<CleengDoubleProcess> {
    const child = spawn(process.execPath, ['--require', 'ts-node/register', __filename], {
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', CLEENG_DOUBLE_TOKEN: opts.publisherToken, CLEENG_DOUBLE_DELAY_MS: String(opts.answerDelayMs ?? 0) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const next = (kind: DoubleMessage['kind']): Promise<DoubleMessage> =>
        new Promise((resolve, reject) => {
            const onMessage = (m: DoubleMessage): void => {
                if (m.kind === kind) {
                    child.off('message', onMessage);
                    resolve(m);
                }
            };
            child.on('message', onMessage);
            void exited.then(() => reject(new Error('the Cleeng stand-in exited')));
        });
    const ready = (await next('ready')) as Extract<DoubleMessage, { kind: 'ready' }>;
    return {
        url: ready.url,
        pid: child.pid,
        async posts() {
            const answer = next('posts');
            child.send('posts');
            return new Map(((await answer) as Extract<DoubleMessage, { kind: 'posts' }>).posts);
        },
        async close() {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                await exited;
            }
        },
    };
}

if (require.main === module && process.send) {
    void startCleengDouble({ publisherToken: process.env.CLEENG_DOUBLE_TOKEN ?? '', answerDelayMs: Number(process.env.CLEENG_DOUBLE_DELAY_MS ?? 0) }).then((double) => {
        const send = (m: DoubleMessage): boolean => process.send!(m);
        process.on('message', (m: unknown) => {
            if (m === 'posts') {
                send({ kind: 'posts', posts: [...double.posts] });
            }
        });
        const stop = (): void => void double.close().then(() => process.exit(0));
        process.on('SIGTERM', stop);
        process.on('disconnect', stop);
        send({ kind: 'ready', url: double.url });
    });
}
