/**
 * Load benchmark: the relay in front of a counting Cleeng stand-in, on loopback in this process,
 * with the in-memory store or a real redis-server (started here on an ephemeral port).
 *   npx ts-node bench/relay-load.ts [--store memory|redis] [--receipts 2000] [--concurrency 50]
 *                                   [--duration-ms 30000] [--duplicate-ratio 0.05] [--json]
 * Sends `receipts` distinct receipts (plus a share of re-sends of already-sent purchaseIds) with a
 * fixed number of concurrent clients, stops starting new ones after `durationMs`, then checks at
 * the stand-in that every accepted purchaseId arrived exactly once.
 */
import * as http from 'node:http';
import { startRelay } from '../relay';
import { startCleengDouble } from '../test/relay/cleeng-double';
import { startTestRedis, TestRedis } from '../test/relay/redis-server';

export interface RelayBenchOptions {
    /** Distinct receipts to send. Default 2000. */
    receipts?: number;
    /** Concurrent in-flight requests. Default 50. */
    concurrency?: number;
    /** Stop starting new requests after this long. Default 30000. */
    durationMs?: number;
    /** Extra re-sends of already-sent purchaseIds, as a share of `receipts`. Default 0.05. */
    duplicateRatio?: number;
    /** The relay's shared store. Default memory. */
    store?: 'memory' | 'redis';
    /** Reuse a running redis-server (the bench runs several rows against one). */
    redisUrl?: string;
}

export interface RelayBenchResult {
    /** Requests sent (distinct receipts + re-sends). */
    sent: number;
    distinctSent: number;
    duplicatesSent: number;
    ok: number;
    failed: number;
    statusCounts: Record<string, number>;
    elapsedMs: number;
    throughputRps: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    /** POSTs that reached the emulator's /roku/payment. */
    upstreamPosts: number;
    /** Distinct purchaseIds the emulator accepted. */
    distinctAtEmulator: number;
    /** Accepted by the relay (200) but never reached Cleeng. */
    lost: number;
    /** purchaseIds posted to Cleeng more than once. */
    doubled: number;
    /** True when distinctAtEmulator == distinctSent, lost == 0 and doubled == 0. */
    consistent: boolean;
    concurrency: number;
    store: 'memory' | 'redis';
}

function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) {
        return 0;
    }
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank]!;
}

function postJson(agent: http.Agent, url: URL, body: string): Promise<number> {
    return new Promise((resolve) => {
        const req = http.request(
            url,
            { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
            (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
                res.on('error', () => resolve(0));
            },
        );
        req.setTimeout(30_000, () => req.destroy());
        req.on('error', () => resolve(0));
        req.end(body);
    });
}

export async function runRelayBench(opts: RelayBenchOptions = {}): Promise<RelayBenchResult> {
    const receipts = opts.receipts ?? 2000;
    const concurrency = opts.concurrency ?? 50;
    const durationMs = opts.durationMs ?? 30_000;
    const duplicates = Math.floor(receipts * (opts.duplicateRatio ?? 0.05));
    const token = `bench-publisher-token-${process.pid}`;

    const store = opts.store ?? 'memory';
    const emu = await startCleengDouble({ publisherToken: token });
    let ownRedis: TestRedis | undefined;
    let redisUrl = opts.redisUrl;
    if (store === 'redis' && !redisUrl) {
        ownRedis = await startTestRedis();
        redisUrl = ownRedis.url;
    }
    const relay = await startRelay({
        publisherToken: token,
        cleengRokuPaymentUrl: `${emu.url}/roku/payment`,
        cleengJsonRpcUrl: `${emu.url}/3.0/json-rpc`,
        redisUrl: store === 'redis' ? redisUrl : undefined,
        port: 0,
        // All clients share 127.0.0.1: the per-IP limit is off; the per-(email, client) budget is on.
        rateLimit: { perIp: 0 },
        retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
        logSink: () => {},
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const target = new URL('/v1/roku/receipts', relay.url);

    // The send plan: distinct receipts, with re-sends of earlier ones spread through it.
    const plan: { purchaseId: string; body: string }[] = [];
    const bodies: { purchaseId: string; body: string }[] = [];
    for (let i = 0; i < receipts; i++) {
        const purchaseId = `bench-${process.pid}-${store}-${concurrency}-${Date.now()}-${i}`;
        const body = JSON.stringify({
            customerEmail: `bench${i}@example.com`,
            offerId: 'S123123123_US',
            order: { amount: 4.99, code: 'S123123123-US', purchaseId, qty: 1, total: 5.39 },
        });
        bodies.push({ purchaseId, body });
    }
    const dupEvery = duplicates > 0 ? Math.max(1, Math.floor(receipts / duplicates)) : Infinity;
    let dups = 0;
    for (let i = 0; i < receipts; i++) {
        plan.push(bodies[i]!);
        if (dups < duplicates && (i + 1) % dupEvery === 0) {
            plan.push(bodies[Math.floor(i / 2)]!);
            dups++;
        }
    }

    const latencies: number[] = [];
    const statusCounts: Record<string, number> = {};
    const acceptedIds = new Set<string>();
    const sentIds = new Set<string>();
    let next = 0;
    let sent = 0;
    const started = performance.now();
    const deadline = started + durationMs;

    async function worker(): Promise<void> {
        while (next < plan.length && performance.now() < deadline) {
            const item = plan[next++]!;
            sent++;
            sentIds.add(item.purchaseId);
            const t0 = performance.now();
            const status = await postJson(agent, target, item.body);
            latencies.push(performance.now() - t0);
            statusCounts[status] = (statusCounts[status] ?? 0) + 1;
            if (status === 200) {
                acceptedIds.add(item.purchaseId);
            }
        }
    }

    try {
        await Promise.all(Array.from({ length: concurrency }, () => worker()));
        const elapsedMs = performance.now() - started;
        const perId = emu.posts;
        const posts = [...perId.values()].reduce((s, n) => s + n, 0);
        const distinctAtEmulator = perId.size;
        let lost = 0;
        for (const id of acceptedIds) {
            if (!perId.has(id)) {
                lost++;
            }
        }
        const doubled = [...perId.values()].filter((n) => n > 1).length;
        latencies.sort((a, b) => a - b);
        const ok = statusCounts['200'] ?? 0;
        return {
            sent,
            distinctSent: sentIds.size,
            duplicatesSent: sent - sentIds.size,
            ok,
            failed: sent - ok,
            statusCounts,
            elapsedMs: Math.round(elapsedMs),
            throughputRps: Math.round((sent / elapsedMs) * 1000 * 10) / 10,
            p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
            p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
            maxMs: Math.round((latencies[latencies.length - 1] ?? 0) * 100) / 100,
            upstreamPosts: posts,
            distinctAtEmulator,
            lost,
            doubled,
            consistent: distinctAtEmulator === sentIds.size && lost === 0 && doubled === 0,
            concurrency,
            store,
        };
    } finally {
        agent.destroy();
        await relay.close();
        await emu.close();
        await ownRedis?.stop();
    }
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const num = (name: string): number | undefined => {
        const i = args.indexOf(`--${name}`);
        return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : undefined;
    };
    runRelayBench({
        receipts: num('receipts'),
        concurrency: num('concurrency'),
        durationMs: num('duration-ms'),
        duplicateRatio: num('duplicate-ratio'),
        store: args.includes('redis') ? 'redis' : 'memory',
    }).then(
        (r) => {
            if (args.includes('--json')) {
                process.stdout.write(JSON.stringify(r) + '\n');
            } else {
                process.stdout.write(
                    [
                        `relay load (${r.store} store): ${r.sent} requests (${r.distinctSent} distinct receipts + ${r.duplicatesSent} re-sends), concurrency ${r.concurrency}`,
                        `  throughput  ${r.throughputRps} req/s over ${r.elapsedMs} ms`,
                        `  latency     p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms`,
                        `  answers     ${JSON.stringify(r.statusCounts)}`,
                        `  at Cleeng   ${r.upstreamPosts} posts, ${r.distinctAtEmulator} distinct purchaseIds; lost ${r.lost}, doubled ${r.doubled}`,
                        `  consistent  ${r.consistent ? 'yes' : 'NO'}`,
                    ].join('\n') + '\n',
                );
            }
            process.exitCode = r.consistent && r.failed === 0 ? 0 : 1;
        },
        (e: Error) => {
            process.stderr.write(`bench failed: ${e.message}\n`);
            process.exitCode = 1;
        },
    );
}
