/**
 * Entitlement poll benchmark (not a test): how late does the channel notice that Cleeng granted
 * a purchase, and how many requests does it cost?
 *
 * 1. Runs a tiny generated channel once in the simulator; it prints the poll schedule from the
 *    channel's own BrightScript (`cleeng.pollSchedule()` / `cleeng.pollDelayMs`), plus sample
 *    answers of pollDelayMs for late polls, which the replay below is checked against.
 * 2. Starts one Cleeng fake per grant delay (1, 2, 4, 10, 30 s), each behind its own real relay
 *    (scripts/lib/local-stack.ts), and drives purchases from TypeScript, all concurrently: POST
 *    the receipt to the relay, then poll /v1/entitlements/check (a) with the channel's schedule
 *    and (b) every 5 s, until granted.
 * 3. Prints p50/p95 of the lateness (time the grant was noticed minus time it was made) and the
 *    requests per purchase, and checks the goals. The viewer has content at once (provisional
 *    access), so the checks follow Cleeng's advice to back off: at most 6 Cleeng calls per
 *    purchase in 60 s (the receipt plus at most 5 checks), and a grant within 10 s noticed at most
 *    4 s late at p95.
 *
 *   npx ts-node bench/entitlement.ts [--purchases N] [--delays 1,2,4,10,30] [--jitter-ms 0]
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { buildChannel } from '../scripts/build';
import { runInSimulator } from '../scripts/lib/simulator';
import { MAX_GRANT_DELAY_MS, type CleengEmulator } from '../emulators/cleeng';
import { startLocalStack, type LocalStack } from '../scripts/lib/local-stack';

const root = path.resolve(__dirname, '..');
const OFFER = 'S123123123_US';

export interface ChannelSchedule {
    /** ms from the start of the wait at which each foreground poll is due. */
    targetsMs: number[];
    minGapMs: number;
    foregroundMs: number;
    backgroundMs: number;
    /** pollDelayMs(index, elapsed) as BrightScript answered, for replay checks. */
    samples: { index: number; elapsedMs: number; delayMs: number }[];
}

export interface EntitlementBenchOptions {
    /** Grant delays in seconds. Default 1, 2, 4, 10, 30. */
    delaysS?: number[];
    /** Purchases per delay and strategy. Default 8. */
    purchasesPerDelay?: number;
    /** Spread each grant over [delay, delay + jitter] ms (30 s: [30 s - jitter, 30 s]). Default 0 (exact delays). */
    jitterMs?: number;
    /** Progress lines. Default: none. */
    log?: (line: string) => void;
    /** Use this schedule instead of running the channel (tests of the bench itself). */
    schedule?: ChannelSchedule;
}

export interface StrategyRow {
    strategy: 'channel schedule' | 'every 5 s';
    grantDelayS: number;
    purchases: number;
    lateP50Ms: number;
    lateP95Ms: number;
    lateMaxMs: number;
    requestsP50: number;
    requestsP95: number;
    /** Most requests one purchase made in any 60 s window. */
    maxRequestsIn60s: number;
}

export interface StrategySummary {
    /** Over every purchase whose grant came within 10 s of the receipt (as measured). */
    lateP50Ms: number;
    lateP95Ms: number;
    requestsPerPurchaseP50: number;
    maxRequestsIn60s: number;
}

export interface EntitlementBenchResult {
    schedule: ChannelSchedule;
    rows: StrategyRow[];
    channel: StrategySummary;
    every5s: StrategySummary;
    goals: { lateP95Within10sMs: number; maxRequestsIn60s: number; lateOk: boolean; requestsOk: boolean };
    durationMs: number;
}

// ---- the schedule, from the channel's BrightScript ---------------------------------------------

const SCHEDULE_MAIN = `' Prints the entitlement poll schedule of source/cleeng/Poll.bs (bench/entitlement.ts).
function main(args as object) as void
    times = cleeng.pollSchedule()
    text = ""
    for each t in times
        if text <> ""
            text = text + ","
        end if
        text = text + t.toStr()
    end for
    print "[schedule] targets=" + text
    minGap = cleeng.POLL_MIN_GAP_MS
    foreground = cleeng.POLL_FOREGROUND_MS
    print "[schedule] minGap=" + minGap.toStr()
    print "[schedule] foreground=" + foreground.toStr()
    print "[schedule] background=" + cleeng.backgroundPollMs().toStr()
    for i = 0 to times.count()
        for each lag in [0, 40, 350, 5000]
            elapsed = lag
            if i > 0
                elapsed = times[i - 1] + lag
            end if
            print "[schedule] sample=" + i.toStr() + "," + elapsed.toStr() + "," + cleeng.pollDelayMs(i, elapsed).toStr()
        end for
    end for
end function
`;

/** Builds and runs a one-file channel around source/cleeng/Poll.bs and reads what it prints. */
export async function scheduleFromChannel(): Promise<ChannelSchedule> {
    const dir = path.join(root, 'out', 'tmp', `entitlement-schedule-${process.pid}-${Date.now()}`);
    try {
        const write = (rel: string, text: string): void => {
            fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
            fs.writeFileSync(path.join(dir, rel), text);
        };
        write('manifest', 'title=Poll schedule\nmajor_version=1\nminor_version=0\nbuild_version=0\nui_resolutions=fhd\n');
        write('bsconfig.test.json', JSON.stringify({ rootDir: '.', files: ['manifest', 'source/**/*.bs'], createPackage: false, retainStagingDir: true, diagnosticFilters: [] }));
        write('source/cleeng/Poll.bs', fs.readFileSync(path.join(root, 'source', 'cleeng', 'Poll.bs'), 'utf8'));
        write('source/main.bs', SCHEDULE_MAIN);
        const built = await buildChannel({ target: 'test', rootDir: dir, env: {}, quiet: true });
        const run = await runInSimulator({ app: built.zipPath, timeoutMs: 30000 });
        if (!run.ok) {
            throw new Error(`the schedule channel failed: ${run.message}`);
        }
        const value = (name: string): string => {
            const line = run.lines.find((l) => l.startsWith(`[schedule] ${name}=`));
            if (!line) {
                throw new Error(`the schedule channel printed no ${name}`);
            }
            return line.slice(`[schedule] ${name}=`.length);
        };
        const samples = run.lines
            .filter((l) => l.startsWith('[schedule] sample='))
            .map((l) => {
                const [index, elapsedMs, delayMs] = l.slice('[schedule] sample='.length).split(',').map(Number);
                return { index: index!, elapsedMs: elapsedMs!, delayMs: delayMs! };
            });
        const schedule: ChannelSchedule = {
            targetsMs: value('targets').split(',').map(Number),
            minGapMs: Number(value('minGap')),
            foregroundMs: Number(value('foreground')),
            backgroundMs: Number(value('background')),
            samples
        };
        checkReplay(schedule);
        return schedule;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The channel's pollDelayMs, replayed from its schedule (checked against BrightScript's answers). */
export function replayDelayMs(s: ChannelSchedule, index: number, elapsedMs: number): number {
    if (elapsedMs >= s.foregroundMs || index < 0 || index >= s.targetsMs.length) {
        return -1;
    }
    let delay = s.targetsMs[index]! - elapsedMs;
    if (index > 0 && delay < s.minGapMs) {
        delay = s.minGapMs;
    } else if (delay < 0) {
        delay = 0;
    }
    return elapsedMs + delay > s.foregroundMs ? -1 : delay;
}

function checkReplay(s: ChannelSchedule): void {
    if (s.targetsMs.length === 0 || s.samples.length === 0) {
        throw new Error('the schedule channel printed an empty schedule');
    }
    for (const sample of s.samples) {
        const mine = replayDelayMs(s, sample.index, sample.elapsedMs);
        if (mine !== sample.delayMs) {
            throw new Error(`replay differs from BrightScript: pollDelayMs(${sample.index}, ${sample.elapsedMs}) = ${sample.delayMs}, replay ${mine}`);
        }
    }
}

// ---- driving purchases ------------------------------------------------------------------------

// A fresh connection per request: polls are seconds apart, longer than the relay keeps an idle
// socket open, and a reused socket the relay already closed fails with ECONNRESET.
const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });

function postJson(base: string, route: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const data = Buffer.from(JSON.stringify(body));
    const url = new URL(route, base);
    return new Promise((resolve, reject) => {
        const req = http.request(
            { agent, hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } },
            (res) => {
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
                    resolve({ status: res.statusCode ?? 0, json });
                });
            }
        );
        req.on('error', reject);
        req.end(data);
    });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Trial {
    lateMs: number;
    /** When the grant came, in ms after the receipt was answered. */
    grantAfterMs: number;
    requests: number;
    maxIn60s: number;
}

type Strategy = StrategyRow['strategy'];

/** One purchase: receipt, then polls per the strategy until granted (background every 30 s after 60 s). */
async function purchase(stack: LocalStack, strategy: Strategy, schedule: ChannelSchedule, id: string): Promise<Trial> {
    const emu = stack.cleeng;
    const email = `bench-${id}@example.com`;
    const purchaseId = `bench-${id}`;
    const receipt = await postJson(stack.relayUrl, '/v1/roku/receipts', {
        customerEmail: email,
        offerId: OFFER,
        order: { amount: 4.99, code: 'S123123123-US', purchaseId, qty: 1, total: 4.99 }
    });
    if (receipt.status !== 200) {
        throw new Error(`receipt answered ${receipt.status}`);
    }
    // The relay answers entitlement checks only with the check token of the accepted receipt.
    const checkToken = (receipt.json as { checkToken?: unknown } | undefined)?.checkToken;
    if (typeof checkToken !== 'string') {
        throw new Error('the accepted receipt carried no check token');
    }
    const start = Date.now();
    const pollTimes: number[] = [];
    let index = 0;
    let background = false;
    for (;;) {
        let delay: number;
        if (strategy === 'every 5 s') {
            delay = (index + 1) * 5000 - (Date.now() - start);
        } else if (!background) {
            delay = replayDelayMs(schedule, index, Date.now() - start);
            if (delay < 0) {
                background = true;
                delay = schedule.backgroundMs;
            }
        } else {
            delay = schedule.backgroundMs;
        }
        await sleep(delay);
        pollTimes.push(Date.now() - start);
        const check = await postJson(stack.relayUrl, '/v1/entitlements/check', { customerEmail: email, offerId: OFFER, checkToken });
        index++;
        const granted = check.status === 200 && (check.json as { accessGranted?: boolean } | undefined)?.accessGranted === true;
        if (granted) {
            const noticedAt = Date.now();
            const grantAt = grantTime(emu, email, noticedAt);
            let maxIn60s = 0;
            for (const t of pollTimes) {
                maxIn60s = Math.max(maxIn60s, pollTimes.filter((u) => u >= t && u < t + 60000).length);
            }
            return { lateMs: noticedAt - grantAt, grantAfterMs: grantAt - start, requests: pollTimes.length, maxIn60s };
        }
        if (pollTimes.length > 100) {
            throw new Error('no grant after 100 polls');
        }
    }
}

/** When the emulator granted (recorded by the watcher below, within 5 ms), or `fallback`. */
const grantTimes = new Map<string, number>();
function grantTime(emu: CleengEmulator, email: string, fallback: number): number {
    return grantTimes.get(`${emu.port}|${email}`) ?? fallback;
}

/** Watches the emulators' grants every 5 ms so the grant time is measured, not assumed. */
function watchGrants(emus: CleengEmulator[], emails: () => string[]): () => void {
    const timer = setInterval(() => {
        for (const emu of emus) {
            for (const email of emails()) {
                const key = `${emu.port}|${email}`;
                if (!grantTimes.has(key) && emu.hasAccess(email, OFFER)) {
                    grantTimes.set(key, Date.now());
                }
            }
        }
    }, 5);
    return () => clearInterval(timer);
}

function percentile(values: number[], p: number): number {
    if (values.length === 0) {
        return NaN;
    }
    const sorted = [...values].sort((a, b) => a - b);
    const rank = Math.ceil((p / 100) * sorted.length) - 1;
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

function summarize(trials: Trial[]): StrategySummary {
    return {
        lateP50Ms: percentile(
            trials.map((t) => t.lateMs),
            50
        ),
        lateP95Ms: percentile(
            trials.map((t) => t.lateMs),
            95
        ),
        requestsPerPurchaseP50: percentile(
            trials.map((t) => t.requests),
            50
        ),
        maxRequestsIn60s: Math.max(...trials.map((t) => t.maxIn60s))
    };
}

export async function runEntitlementBench(opts: EntitlementBenchOptions = {}): Promise<EntitlementBenchResult> {
    const started = Date.now();
    const log = opts.log ?? ((): void => undefined);
    const delaysS = opts.delaysS ?? [1, 2, 4, 10, 30];
    const n = opts.purchasesPerDelay ?? 8;
    const jitter = opts.jitterMs ?? 0;
    log('reading the poll schedule from the channel (simulator)…');
    const schedule = opts.schedule ?? (await scheduleFromChannel());
    log(`schedule (ms): ${schedule.targetsMs.join(', ')}; then every ${schedule.backgroundMs} ms`);

    const emus = new Map<number, LocalStack>();
    const emails: string[] = [];
    let stopWatch = (): void => undefined;
    try {
        for (const d of delaysS) {
            // The emulator caps grant delays at 30 s: jitter spreads below the cap for the 30 s case.
            const max = Math.min(d * 1000 + jitter, MAX_GRANT_DELAY_MS);
            emus.set(d, await startLocalStack({ cleeng: { grantDelayMs: { min: Math.max(0, max - jitter), max } } }));
        }
        stopWatch = watchGrants(
            [...emus.values()].map((s) => s.cleeng),
            () => emails
        );
        const strategies: Strategy[] = ['channel schedule', 'every 5 s'];
        const jobs: Promise<{ strategy: Strategy; delay: number; trial: Trial }>[] = [];
        let k = 0;
        for (const d of delaysS) {
            for (const strategy of strategies) {
                for (let i = 0; i < n; i++) {
                    const id = `${d}-${strategy === 'every 5 s' ? 'p5' : 'ch'}-${i}-${started}`;
                    emails.push(`bench-${id}@example.com`);
                    const stagger = (k++ % 20) * 37;
                    jobs.push(
                        sleep(stagger)
                            .then(() => purchase(emus.get(d)!, strategy, schedule, id))
                            .then((trial) => ({ strategy, delay: d, trial }))
                    );
                }
            }
        }
        log(`${jobs.length} purchases running concurrently (longest grant ${Math.max(...delaysS)} s)…`);
        const done = await Promise.all(jobs);
        const rows: StrategyRow[] = [];
        for (const strategy of strategies) {
            for (const d of delaysS) {
                const trials = done.filter((x) => x.strategy === strategy && x.delay === d).map((x) => x.trial);
                const s = summarize(trials);
                rows.push({
                    strategy,
                    grantDelayS: d,
                    purchases: trials.length,
                    lateP50Ms: s.lateP50Ms,
                    lateP95Ms: s.lateP95Ms,
                    lateMaxMs: Math.max(...trials.map((t) => t.lateMs)),
                    requestsP50: s.requestsPerPurchaseP50,
                    requestsP95: percentile(
                        trials.map((t) => t.requests),
                        95
                    ),
                    maxRequestsIn60s: s.maxRequestsIn60s
                });
            }
        }
        const within10 = (strategy: Strategy): Trial[] => done.filter((x) => x.strategy === strategy && x.trial.grantAfterMs <= 10000).map((x) => x.trial);
        const all = (strategy: Strategy): Trial[] => done.filter((x) => x.strategy === strategy).map((x) => x.trial);
        const channel = { ...summarize(within10('channel schedule')), maxRequestsIn60s: summarize(all('channel schedule')).maxRequestsIn60s };
        const every5s = { ...summarize(within10('every 5 s')), maxRequestsIn60s: summarize(all('every 5 s')).maxRequestsIn60s };
        return {
            schedule,
            rows,
            channel,
            every5s,
            goals: {
                lateP95Within10sMs: 4000,
                // Checks only: with the receipt itself that is at most 6 Cleeng calls.
                maxRequestsIn60s: 5,
                lateOk: channel.lateP95Ms <= 4000,
                requestsOk: channel.maxRequestsIn60s <= 5
            },
            durationMs: Date.now() - started
        };
    } finally {
        stopWatch();
        await Promise.all([...emus.values()].map((e) => e.close()));
    }
}

export function formatEntitlementBench(r: EntitlementBenchResult): string {
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const lines: string[] = [];
    lines.push(`poll schedule from the channel (ms after the receipt): ${r.schedule.targetsMs.join(', ')}; background every ${r.schedule.backgroundMs / 1000} s`);
    lines.push('');
    lines.push('strategy          grant  n   late p50  late p95  late max  requests p50/p95  max req/60 s');
    for (const row of r.rows) {
        lines.push(
            `${row.strategy.padEnd(17)} ${String(row.grantDelayS).padStart(3)} s ${String(row.purchases).padStart(3)}  ${s(row.lateP50Ms).padStart(8)}  ${s(row.lateP95Ms).padStart(8)}  ${s(row.lateMaxMs).padStart(8)}  ${`${row.requestsP50}/${row.requestsP95}`.padStart(16)}  ${String(row.maxRequestsIn60s).padStart(12)}`
        );
    }
    lines.push('');
    lines.push(
        `grants within 10 s, channel schedule: late p50 ${s(r.channel.lateP50Ms)}, p95 ${s(r.channel.lateP95Ms)} (goal ≤ 4.00 s: ${r.goals.lateOk ? 'met' : 'MISSED'}); ` +
            `requests p50 ${r.channel.requestsPerPurchaseP50}; max ${r.channel.maxRequestsIn60s} checks in 60 s (goal ≤ 5, 6 Cleeng calls with the receipt: ${r.goals.requestsOk ? 'met' : 'MISSED'})`
    );
    lines.push(`grants within 10 s, every 5 s:         late p50 ${s(r.every5s.lateP50Ms)}, p95 ${s(r.every5s.lateP95Ms)}; requests p50 ${r.every5s.requestsPerPurchaseP50}; max ${r.every5s.maxRequestsIn60s} requests in 60 s`);
    lines.push(`ran in ${(r.durationMs / 1000).toFixed(1)} s`);
    return lines.join('\n');
}

function parseArgs(argv: string[]): EntitlementBenchOptions {
    const opts: EntitlementBenchOptions = {};
    for (let i = 0; i < argv.length; i++) {
        const next = (): string => {
            const v = argv[++i];
            if (v === undefined) {
                throw new Error(`${argv[i - 1]} needs a value`);
            }
            return v;
        };
        const arg = argv[i];
        if (arg === '--purchases') {
            opts.purchasesPerDelay = Number(next());
        } else if (arg === '--delays') {
            opts.delaysS = next().split(',').map(Number);
        } else if (arg === '--jitter-ms') {
            opts.jitterMs = Number(next());
        } else {
            throw new Error(`unknown option ${arg} (use --purchases N, --delays 1,2,4,10,30, --jitter-ms N)`);
        }
    }
    return opts;
}

if (require.main === module) {
    runEntitlementBench({ ...parseArgs(process.argv.slice(2)), log: (l) => console.log(l) })
        .then((r) => {
            console.log('');
            console.log(formatEntitlementBench(r));
            process.exit(r.goals.lateOk && r.goals.requestsOk ? 0 : 1);
        })
        .catch((err: unknown) => {
            for (const d of (err as { diagnostics?: string[] }).diagnostics ?? []) {
                console.error(d);
            }
            console.error(`entitlement bench failed: ${(err as Error).message}`);
            process.exit(1);
        });
}
