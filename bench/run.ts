/**
 * `npm run bench`: one table of where the channel stands on speed, cost and size, each figure
 * measured in this run beside its comparison. Writes the same as JSON to bench/results/.
 *
 *   npm run bench                  everything (a few minutes on 2 cores)
 *   npm run bench -- --only build,relay     (sections: entitlement, launch, build, sample, relay, tests)
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import JSZip from 'jszip';
import * as path from 'path';
import { buildChannel } from '../scripts/build';
import { buildExample } from '../scripts/build-example';
import { runInSimulator } from '../scripts/lib/simulator';

const root = path.resolve(__dirname, '..');

export interface BenchRow {
    section: string;
    metric: string;
    value: string;
    goal?: string;
    /** true: meets its goal; false: misses it; undefined: no goal. */
    ok?: boolean;
}

function fmtMs(ms: number): string {
    return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

async function zipSizes(zipPath: string): Promise<{ total: number; withoutImages: number }> {
    const bytes = fs.readFileSync(zipPath);
    const zip = await JSZip.loadAsync(bytes);
    let images = 0;
    for (const [name, entry] of Object.entries(zip.files)) {
        if (!entry.dir && /^images\//.test(name)) {
            // compressed size as stored in the zip
            const data = (entry as unknown as { _data?: { compressedSize?: number } })._data;
            images += data?.compressedSize ?? (await entry.async('nodebuffer')).length;
        }
    }
    return { total: bytes.length, withoutImages: bytes.length - images };
}

export async function benchBuild(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    // Warm once (module loading), then measure.
    await buildChannel({ target: 'prod', quiet: true, outFile: 'out/bench/prod.zip' });
    const prod = await buildChannel({ target: 'prod', quiet: true, outFile: 'out/bench/prod.zip' });
    const test = await buildChannel({ target: 'test', simulator: true, quiet: true, outFile: 'out/bench/test-sim.zip' });
    const sizes = await zipSizes(prod.zipPath);
    rows.push({ section: 'build', metric: 'production build time', value: fmtMs(prod.durationMs) });
    rows.push({ section: 'build', metric: 'test build time (simulator)', value: fmtMs(test.durationMs) });
    rows.push({ section: 'build', metric: 'package zip size', value: `${(sizes.total / 1024).toFixed(1)} KB` });
    rows.push({
        section: 'build',
        metric: 'package zip size without images',
        value: `${(sizes.withoutImages / 1024).toFixed(1)} KB`,
        goal: '< 150 KB',
        ok: sizes.withoutImages < 150 * 1024
    });
    return rows;
}

/** The sample host channel's budget (examples/paywall-channel, production build). */
export const SAMPLE_BUDGET = { zipBytes: 100 * 1024, firstScreenMs: 1500 };

/** The sample host channel's production package: zip size, and launch to its first screen (the grid). */
export async function benchSample(): Promise<BenchRow[]> {
    const build = await buildExample({ target: 'prod', relayUrl: 'https://relay.example.com', outFile: path.join(root, 'out', 'bench', 'sample-prod.zip') });
    const size = fs.statSync(build.zipPath).size;
    const launches: number[] = [];
    for (let i = 0; i < 3; i++) {
        let startedAt = 0;
        let shownAt = 0;
        const result = await runInSimulator({
            app: build.zipPath,
            timeoutMs: 30000,
            onLine: (line) => {
                if (line.startsWith('------ Running')) {
                    startedAt = Date.now();
                } else if (line === '[sample] home' && shownAt === 0) {
                    shownAt = Date.now();
                }
            },
            keys: [{ when: '[sample] home', waitMs: 1000, key: 'Back' }]
        });
        if (!result.ok || shownAt === 0) {
            throw new Error(`sample launch failed: ${result.message}`);
        }
        launches.push(shownAt - startedAt);
    }
    launches.sort((a, b) => a - b);
    const firstScreen = launches[1]!;
    return [
        { section: 'sample', metric: 'sample host channel: production package zip size', value: `${(size / 1024).toFixed(1)} KB`, goal: `< ${SAMPLE_BUDGET.zipBytes / 1024} KB`, ok: size < SAMPLE_BUDGET.zipBytes },
        {
            section: 'sample',
            metric: 'sample host channel: launch to first screen (grid, median of 3)',
            value: fmtMs(firstScreen),
            goal: `< ${fmtMs(SAMPLE_BUDGET.firstScreenMs)}`,
            ok: firstScreen < SAMPLE_BUDGET.firstScreenMs
        },
        { section: 'sample', metric: 'sample host channel: production build (ropm package, ropm install, bsc)', value: fmtMs(build.durationMs) }
    ];
}

/** CPU seconds (user + system) of this process's children that have ended, from /proc (Linux); undefined elsewhere. */
function childrenCpuSeconds(): number | undefined {
    try {
        const stat = fs.readFileSync('/proc/self/stat', 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17, in clock ticks (100 per second on Linux).
        return (Number(fields[13]) + Number(fields[14])) / 100;
    } catch {
        return undefined;
    }
}

export async function benchTests(): Promise<BenchRow[]> {
    const started = Date.now();
    const cpuBefore = childrenCpuSeconds();
    const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, ['--require', 'ts-node/register', path.join(root, 'scripts', 'test-all.ts')], {
            cwd: root,
            stdio: ['ignore', 'ignore', 'inherit'],
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }
        });
        child.on('close', (c) => resolve(c ?? 1));
    });
    const wall = Date.now() - started;
    const cpuAfter = childrenCpuSeconds();
    const summaryFile = path.join(root, 'out', 'test-results', 'summary.json');
    const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as {
        results: { kind: string; passed: number; failed: number; ms: number; files?: { file: string; passed: number; failed: number; ms: number }[] }[];
        jobs?: number;
    };
    const rows: BenchRow[] = [
        { section: 'tests', metric: 'npm test wall time', value: `${fmtMs(wall)} (${code === 0 ? 'green' : 'FAILED'})`, goal: '< 180 s', ok: wall < 180000 },
        { section: 'tests', metric: 'load average (1 min) at the end', value: os.loadavg()[0]!.toFixed(1) }
    ];
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
        rows.push({ section: 'tests', metric: 'CPU time of the whole run (user + system)', value: `${(cpuAfter - cpuBefore).toFixed(0)} s` });
    }
    for (const r of summary.results) {
        rows.push({ section: 'tests', metric: `  ${r.kind}`, value: `${fmtMs(r.ms)}, ${r.passed} passed, ${r.failed} failed` });
        if (r.kind !== 'node' || !r.files) {
            continue;
        }
        // node:test split by kind of test (the folder under test/); files run side by side, so these overlap.
        const byKind = new Map<string, { ms: number; passed: number; failed: number; files: number; slowest: string; slowestMs: number }>();
        for (const f of r.files) {
            const kind = f.file.split(/[\\/]/)[1] ?? f.file;
            const k = byKind.get(kind) ?? { ms: 0, passed: 0, failed: 0, files: 0, slowest: '', slowestMs: 0 };
            k.ms += f.ms;
            k.passed += f.passed;
            k.failed += f.failed;
            k.files++;
            if (f.ms > k.slowestMs) {
                k.slowest = path.basename(f.file);
                k.slowestMs = f.ms;
            }
            byKind.set(kind, k);
        }
        for (const [kind, k] of [...byKind.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
            rows.push({
                section: 'tests',
                metric: `    node ${kind} (${k.files} file${k.files === 1 ? '' : 's'}, summed)`,
                value: `${fmtMs(k.ms)}, ${k.passed} passed, ${k.failed} failed; slowest ${k.slowest} ${fmtMs(k.slowestMs)}`
            });
        }
    }
    return rows;
}

export async function benchRelay(): Promise<BenchRow[]> {
    const { runRelayBench } = await import('./relay-load');
    const { startTestRedis } = await import('../test/relay/redis-server');
    const redis = await startTestRedis();
    const rows: BenchRow[] = [];
    try {
        // The in-memory store and Redis side by side, in the same run, at 10, 50 and 200 connections.
        // The relay, the Cleeng stand-in and the load generator run in processes of their own.
        for (const store of ['memory', 'redis'] as const) {
            for (const concurrency of [10, 50, 200]) {
                const r = await runRelayBench({ store, concurrency, receipts: 3000, redisUrl: redis.url, redisPid: redis.pid });
                const goal = store === 'redis' && concurrency === 50;
                rows.push({
                    section: 'relay',
                    metric: `${store}, ${concurrency} connections: receipts/s, p50 / p99 (${r.sent} receipts)`,
                    value: `${r.throughputRps.toFixed(0)}/s, ${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)} ms${r.failed > 0 ? `, ${Object.entries(r.statusCounts).filter(([k]) => k !== '200').map(([k, n]) => `${n}× ${k}`).join(', ')}` : ''}`,
                    goal: goal ? '>= 2000/s, p99 < 50 ms' : undefined,
                    ok: goal ? r.throughputRps >= 2000 && r.p99Ms < 50 : undefined
                });
                rows.push({
                    section: 'relay',
                    metric: `${store}, ${concurrency} connections: relay CPU per receipt (load average before → after)`,
                    value: `${r.relayCpuMsPerRequest !== undefined ? `${r.relayCpuMsPerRequest.toFixed(3)} ms, ~${Math.round(1000 / r.relayCpuMsPerRequest)}/s on one free core` : 'n/a'} (load ${r.loadAvg[0]} → ${r.loadAvg[1]})`
                });
                rows.push({
                    section: 'relay',
                    metric: `${store}, ${concurrency} connections: accepted receipts lost / doubled at Cleeng`,
                    value: `${r.lost} / ${r.doubled}`,
                    goal: '0 / 0',
                    ok: r.lost === 0 && r.doubled === 0
                });
            }
        }
    } finally {
        await redis.stop();
    }
    return rows;
}

export async function benchEntitlement(): Promise<BenchRow[]> {
    const { runEntitlementBench } = await import('./entitlement');
    const r = await runEntitlementBench({});
    const rows: BenchRow[] = [];
    for (const delay of [...new Set(r.rows.map((x) => x.grantDelayS))]) {
        const ours = r.rows.find((x) => x.grantDelayS === delay && x.strategy === 'channel schedule');
        const plain = r.rows.find((x) => x.grantDelayS === delay && x.strategy === 'every 5 s');
        if (!ours || !plain) {
            continue;
        }
        rows.push({
            section: 'entitlement',
            metric: `grant after ${delay} s: late p50/p95, requests (ours vs every 5 s)`,
            value: `${fmtMs(ours.lateP50Ms)}/${fmtMs(ours.lateP95Ms)}, ${ours.requestsP50} req vs ${fmtMs(plain.lateP50Ms)}/${fmtMs(plain.lateP95Ms)}, ${plain.requestsP50} req`
        });
    }
    rows.push({
        section: 'entitlement',
        metric: 'grants within 10 s: late p95 (ours vs every 5 s)',
        value: `${fmtMs(r.channel.lateP95Ms)} vs ${fmtMs(r.every5s.lateP95Ms)}`,
        goal: '<= 4.0 s (content is already open)',
        ok: r.goals.lateOk
    });
    rows.push({
        section: 'entitlement',
        metric: 'most Cleeng calls by one purchase in 60 s (ours: receipt + checks)',
        value: String(r.channel.maxRequestsIn60s + 1),
        goal: '<= 6',
        ok: r.goals.requestsOk
    });
    return rows;
}

export async function benchChannel(): Promise<BenchRow[]> {
    const { runChannelBench, median } = await import('./channel');
    const r = await runChannelBench({ runs: 3 });
    const reqs = (xs: number[]): number => Math.max(...xs);
    return [
        { section: 'launch', metric: `new viewer: start to AppLaunchComplete (median of ${r.newViewer.launchMs.length}, first screen ${r.newViewer.firstScreen})`, value: fmtMs(median(r.newViewer.launchMs)) },
        { section: 'launch', metric: `subscriber from cache: start to AppLaunchComplete (first screen ${r.subscriber.firstScreen})`, value: fmtMs(median(r.subscriber.launchMs)) },
        {
            section: 'launch',
            metric: 'network requests before the first screen (new viewer vs subscriber)',
            value: `${reqs(r.newViewer.requestsBeforeFirstScreen)} vs ${reqs(r.subscriber.requestsBeforeFirstScreen)}`,
            goal: 'none',
            ok: reqs(r.newViewer.requestsBeforeFirstScreen) === 0 && reqs(r.subscriber.requestsBeforeFirstScreen) === 0
        },
        { section: 'purchase', metric: 'Select → content (provisional access after Roku\'s order)', value: fmtMs(r.purchase.msToContent) },
        { section: 'purchase', metric: 'Select → Cleeng confirmed (grant after 1 s, background checks)', value: fmtMs(r.purchase.msToConfirmed) },
        { section: 'purchase', metric: 'Cleeng calls for one purchase (receipt + checks, grant after 1 s)', value: String(r.purchase.cleengCalls), goal: '≤ 6 in 60 s', ok: r.purchase.cleengCalls <= 6 },
        { section: 'purchase', metric: 'Task round trips for one purchase (commands + events)', value: String(r.purchase.taskRoundTrips) },
        { section: 'purchase', metric: 'ChannelStore commands for one purchase', value: String(r.purchase.storeCommands) },
        { section: 'purchase', metric: 'HTTP requests for one purchase (grant after 1 s)', value: String(r.purchase.httpRequests) },
        { section: 'purchase', metric: 'registry writes for one purchase', value: String(r.purchase.registryWrites) }
    ];
}

type Section = { name: string; run: () => Promise<BenchRow[]> };

export const SECTIONS: Section[] = [
    { name: 'entitlement', run: benchEntitlement },
    { name: 'launch', run: benchChannel },
    { name: 'build', run: benchBuild },
    { name: 'sample', run: benchSample },
    { name: 'relay', run: benchRelay },
    { name: 'tests', run: benchTests }
];

export function renderTable(rows: BenchRow[]): string {
    const w1 = Math.max(...rows.map((r) => r.section.length), 7);
    const w2 = Math.max(...rows.map((r) => r.metric.length), 6);
    const w3 = Math.max(...rows.map((r) => r.value.length), 5);
    const line = (a: string, b: string, c: string, d: string): string => `| ${a.padEnd(w1)} | ${b.padEnd(w2)} | ${c.padEnd(w3)} | ${d} |`;
    const out = [line('section', 'metric', 'value', 'goal'), `|${'-'.repeat(w1 + 2)}|${'-'.repeat(w2 + 2)}|${'-'.repeat(w3 + 2)}|------|`];
    for (const r of rows) {
        const goal = r.goal ? `${r.goal} ${r.ok === true ? '(met)' : r.ok === false ? '(MISSED)' : ''}`.trim() : '';
        out.push(line(r.section, r.metric, r.value, goal));
    }
    return out.join('\n');
}

async function main(): Promise<void> {
    const onlyAt = process.argv.indexOf('--only');
    const only = onlyAt > 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : undefined;
    const rows: BenchRow[] = [];
    const started = Date.now();
    for (const section of SECTIONS) {
        if (only && !only.includes(section.name)) {
            continue;
        }
        console.error(`bench: ${section.name}…`);
        try {
            rows.push(...(await section.run()));
        } catch (err) {
            rows.push({ section: section.name, metric: 'error', value: (err as Error).message.split('\n')[0] });
        }
    }
    const table = renderTable(rows);
    console.log(table);
    const dir = path.join(root, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString();
    const record = { at: stamp, node: process.version, cpus: (await import('os')).cpus().length, durationMs: Date.now() - started, rows };
    fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(record, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'latest.md'), `${table}\n`);
    console.error(`bench: done in ${fmtMs(Date.now() - started)}; bench/results/latest.json`);
    process.exit(0);
}

if (require.main === module) {
    void main();
}
