/**
 * Load benchmark: the relay in front of a counting Cleeng stand-in, on loopback, with the
 * in-memory store or a real redis-server (started here on an ephemeral port).
 *   npx ts-node bench/relay-load.ts [--store memory|redis] [--receipts 2000] [--concurrency 50]
 *                                   [--duration-ms 30000] [--duplicate-ratio 0.05] [--json]
 *                                   [--relay-node-args "--cpu-prof --cpu-prof-dir=out/prof"]
 * Three processes, so the figures are the relay's and not the load generator's: the relay as
 * `npm run relay` runs it (relay/main.ts, configured from the environment, logging to stdout, which
 * is read here), the Cleeng stand-in (test/relay/cleeng-double.ts) and the load generator, each a
 * child of this one, which only plans, starts and counts. It sends `receipts` distinct receipts (plus a share of
 * re-sends of already-sent purchaseIds) with a fixed number of concurrent clients, stops starting
 * new ones after `durationMs`, then checks at the stand-in that every accepted purchaseId arrived
 * exactly once. It also reads each process's CPU time (Linux /proc) over the run, so the relay's
 * CPU cost per receipt is known even when the machine is shared.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { startCleengDoubleProcess } from '../test/relay/cleeng-double';
import { spawnRelay } from '../test/relay/helpers';
import { startTestRedis, TestRedis } from '../test/relay/redis-server';

const ROOT = path.resolve(__dirname, '..');

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
    /** Reuse a running redis-server (the bench runs several rows against one); `redisPid` lets its CPU be counted. */
    redisUrl?: string;
    redisPid?: number;
    /** Extra node options for the relay process (e.g. `--cpu-prof`). */
    relayNodeArgs?: string[];
}

/** CPU milliseconds (user + system) each process spent during the load. */
export interface CpuUse {
    relay?: number;
    cleeng?: number;
    load?: number;
    redis?: number;
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
    /** POSTs that reached the stand-in's /roku/payment. */
    upstreamPosts: number;
    /** Distinct purchaseIds the stand-in accepted. */
    distinctAtEmulator: number;
    /** Accepted by the relay (200) but never reached Cleeng. */
    lost: number;
    /** purchaseIds posted to Cleeng more than once. */
    doubled: number;
    /** True when distinctAtEmulator == distinctSent, lost == 0 and doubled == 0. */
    consistent: boolean;
    concurrency: number;
    store: 'memory' | 'redis';
    /** CPU ms per process over the load, when /proc can be read. */
    cpuMs: CpuUse;
    /** The relay's CPU ms per request (`cpuMs.relay / sent`). */
    relayCpuMsPerRequest?: number;
    /** 1-minute load average before and after the row. */
    loadAvg: [number, number];
}

function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) {
        return 0;
    }
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank]!;
}

/** utime + stime of a process in ms (Linux /proc; clock ticks are 100/s there), or undefined. */
function cpuMsOf(pid: number | undefined): number | undefined {
    if (!pid) {
        return undefined;
    }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
        return undefined;
    }
}

// ---------------------------------------------------------------------------------------------
// Messages between this process and its children
// ---------------------------------------------------------------------------------------------

interface LoadJob {
    target: string;
    bodies: string[];
    concurrency: number;
    durationMs: number;
}
interface LoadDone {
    /** Per request sent, in order: index into `bodies`, status, latency ms. */
    done: [number, number, number][];
    elapsedMs: number;
}

type ChildMessage = { kind: 'ready' } | { kind: 'load-done'; result: LoadDone };

function spawnLoadGenerator(): ChildProcess {
    return spawn(process.execPath, ['--require', 'ts-node/register', __filename, '--role', 'load'], {
        cwd: ROOT,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
}

function nextMessage<K extends ChildMessage['kind']>(child: ChildProcess, kind: K, what: string): Promise<Extract<ChildMessage, { kind: K }>> {
    return new Promise((resolve, reject) => {
        const onMessage = (m: ChildMessage): void => {
            if (m.kind === kind) {
                cleanup();
                resolve(m as Extract<ChildMessage, { kind: K }>);
            }
        };
        const onExit = (code: number | null): void => {
            cleanup();
            reject(new Error(`${what} exited (${code}) before answering`));
        };
        const cleanup = (): void => {
            child.off('message', onMessage);
            child.off('exit', onExit);
        };
        child.on('message', onMessage);
        child.on('exit', onExit);
    });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
}

export async function runRelayBench(opts: RelayBenchOptions = {}): Promise<RelayBenchResult> {
    const receipts = opts.receipts ?? 2000;
    const concurrency = opts.concurrency ?? 50;
    const durationMs = opts.durationMs ?? 30_000;
    const duplicates = Math.floor(receipts * (opts.duplicateRatio ?? 0.05));
    const token = `bench-publisher-token-${process.pid}`;
    const store = opts.store ?? 'memory';

    const children: ChildProcess[] = [];
    let ownRedis: TestRedis | undefined;
    let cleeng: Awaited<ReturnType<typeof startCleengDoubleProcess>> | undefined;
    try {
        cleeng = await startCleengDoubleProcess({ publisherToken: token });
        const cleengUrl = cleeng.url;
        let redisUrl = opts.redisUrl;
        let redisPid = opts.redisPid;
        if (store === 'redis' && !redisUrl) {
            ownRedis = await startTestRedis();
            redisUrl = ownRedis.url;
            redisPid = ownRedis.pid;
        }
        const relay = spawnRelay(
            {
                CLEENG_PUBLISHER_TOKEN: token,
                RELAY_SECRET: `bench-relay-secret-${process.pid}-0123456789abcdef`,
                CLEENG_ROKU_PAYMENT_URL: `${cleengUrl}/roku/payment`,
                CLEENG_JSONRPC_URL: `${cleengUrl}/3.0/json-rpc`,
                ...(store === 'redis' ? { REDIS_URL: redisUrl! } : {}),
                RELAY_PORT: '0',
                // All clients share 127.0.0.1: the per-IP limit is off; the per-(email, client) budget is on.
                RELAY_RATE_LIMIT_IP: '0',
                RELAY_RETRY_ATTEMPTS: '3',
                RELAY_RETRY_BASE_MS: '20',
                RELAY_RETRY_MAX_MS: '200',
            },
            opts.relayNodeArgs ?? [],
        );
        children.push(relay.child);
        const relayUrl = await relay.listening();
        const load = spawnLoadGenerator();
        children.push(load);
        await nextMessage(load, 'ready', 'the load generator');

        // The send plan: distinct receipts, with re-sends of earlier ones spread through it.
        const ids: string[] = [];
        const bodies: string[] = [];
        for (let i = 0; i < receipts; i++) {
            const purchaseId = `bench-${process.pid}-${store}-${concurrency}-${Date.now()}-${i}`;
            ids.push(purchaseId);
            bodies.push(
                JSON.stringify({
                    customerEmail: `bench${i}@example.com`,
                    offerId: 'S123123123_US',
                    order: { amount: 4.99, code: 'S123123123-US', purchaseId, qty: 1, total: 5.39 },
                }),
            );
        }
        const plan: number[] = [];
        const dupEvery = duplicates > 0 ? Math.max(1, Math.floor(receipts / duplicates)) : Infinity;
        let dups = 0;
        for (let i = 0; i < receipts; i++) {
            plan.push(i);
            if (dups < duplicates && (i + 1) % dupEvery === 0) {
                plan.push(Math.floor(i / 2));
                dups++;
            }
        }

        const pids = { relay: relay.child.pid, cleeng: cleeng.pid, load: load.pid, redis: store === 'redis' ? redisPid : undefined };
        const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)])) as CpuUse;
        const loadBefore = loadavg()[0]!;
        const finished = nextMessage(load, 'load-done', 'the load generator');
        load.send({ target: `${relayUrl}/v1/roku/receipts`, bodies: plan.map((i) => bodies[i]!), concurrency, durationMs } satisfies LoadJob);
        const { result } = await finished;
        const cpuMs: CpuUse = {};
        for (const [k, pid] of Object.entries(pids) as [keyof CpuUse, number | undefined][]) {
            const after = cpuMsOf(pid);
            const before = cpuBefore[k];
            if (after !== undefined && before !== undefined) {
                cpuMs[k] = after - before;
            }
        }
        const loadAfter = loadavg()[0]!;

        const perId = await cleeng.posts();

        const latencies: number[] = [];
        const statusCounts: Record<string, number> = {};
        const acceptedIds = new Set<string>();
        const sentIds = new Set<string>();
        for (const [planIndex, status, ms] of result.done) {
            const id = ids[plan[planIndex]!]!;
            sentIds.add(id);
            latencies.push(ms);
            statusCounts[status] = (statusCounts[status] ?? 0) + 1;
            if (status === 200) {
                acceptedIds.add(id);
            }
        }
        const sent = result.done.length;
        const posts = [...perId.values()].reduce((s, n) => s + n, 0);
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
            elapsedMs: Math.round(result.elapsedMs),
            throughputRps: Math.round((sent / result.elapsedMs) * 1000 * 10) / 10,
            p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
            p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
            maxMs: Math.round((latencies[latencies.length - 1] ?? 0) * 100) / 100,
            upstreamPosts: posts,
            distinctAtEmulator: perId.size,
            lost,
            doubled,
            consistent: perId.size === sentIds.size && lost === 0 && doubled === 0,
            concurrency,
            store,
            cpuMs,
            relayCpuMsPerRequest: cpuMs.relay !== undefined && sent > 0 ? Math.round((cpuMs.relay / sent) * 1000) / 1000 : undefined,
            loadAvg: [Math.round(loadBefore * 100) / 100, Math.round(loadAfter * 100) / 100],
        };
    } finally {
        // The relay first (SIGTERM: it drains and exits 0, writing a --cpu-prof profile if asked).
        await Promise.all(children.reverse().map((c) => stopChild(c)));
        await cleeng?.close();
        await ownRedis?.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// Child roles
// ---------------------------------------------------------------------------------------------

function send(m: ChildMessage): void {
    process.send!(m);
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

async function runLoad(job: LoadJob): Promise<LoadDone> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
    const target = new URL(job.target);
    const done: [number, number, number][] = [];
    let next = 0;
    const started = performance.now();
    const deadline = started + job.durationMs;
    const worker = async (): Promise<void> => {
        while (next < job.bodies.length && performance.now() < deadline) {
            const i = next++;
            const t0 = performance.now();
            const status = await postJson(agent, target, job.bodies[i]!);
            done.push([i, status, performance.now() - t0]);
        }
    };
    await Promise.all(Array.from({ length: job.concurrency }, () => worker()));
    const elapsedMs = performance.now() - started;
    agent.destroy();
    return { done, elapsedMs };
}

function loadRole(): void {
    process.on('message', (job: LoadJob) => {
        void runLoad(job).then((result) => send({ kind: 'load-done', result }));
    });
    process.on('disconnect', () => process.exit(0));
    send({ kind: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

export function formatRelayBench(r: RelayBenchResult): string {
    const cpu = Object.entries(r.cpuMs)
        .map(([k, ms]) => `${k} ${((ms ?? 0) / r.sent).toFixed(3)}`)
        .join(', ');
    return (
        [
            `relay load (${r.store} store): ${r.sent} requests (${r.distinctSent} distinct receipts + ${r.duplicatesSent} re-sends), concurrency ${r.concurrency}`,
            `  throughput  ${r.throughputRps} req/s over ${r.elapsedMs} ms (load average ${r.loadAvg[0]} → ${r.loadAvg[1]})`,
            `  latency     p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms`,
            `  answers     ${JSON.stringify(r.statusCounts)}`,
            `  at Cleeng   ${r.upstreamPosts} posts, ${r.distinctAtEmulator} distinct purchaseIds; lost ${r.lost}, doubled ${r.doubled}`,
            `  CPU ms/req  ${cpu || 'n/a'}${r.relayCpuMsPerRequest ? ` (relay alone on one core: ~${Math.round(1000 / r.relayCpuMsPerRequest)}/s)` : ''}`,
            `  consistent  ${r.consistent ? 'yes' : 'NO'}`,
        ].join('\n') + '\n'
    );
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const value = (name: string): string | undefined => {
        const i = args.indexOf(`--${name}`);
        return i >= 0 ? args[i + 1] : undefined;
    };
    const num = (name: string): number | undefined => (value(name) !== undefined ? Number(value(name)) : undefined);
    const role = value('role');
    if (role === 'load') {
        loadRole();
    } else {
        runRelayBench({
            receipts: num('receipts'),
            concurrency: num('concurrency'),
            durationMs: num('duration-ms'),
            duplicateRatio: num('duplicate-ratio'),
            store: value('store') === 'redis' ? 'redis' : 'memory',
            relayNodeArgs: value('relay-node-args')?.split(/\s+/).filter(Boolean),
        }).then(
            (r) => {
                process.stdout.write(args.includes('--json') ? JSON.stringify(r) + '\n' : formatRelayBench(r));
                process.exitCode = r.consistent && r.failed === 0 ? 0 : 1;
            },
            (e: Error) => {
                process.stderr.write(`bench failed: ${e.message}\n`);
                process.exitCode = 1;
            },
        );
    }
}
