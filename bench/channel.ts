/**
 * Channel benchmarks in the simulator: launch time to AppLaunchComplete (new viewer; subscriber
 * whose access comes from the cache), network requests before the first screen, and the cost of
 * one purchase (Task round trips, HTTP requests, registry writes).
 *
 *   npx ts-node bench/channel.ts
 *
 * The channel talks to the real relay (in this process) in front of the Cleeng fake; "HTTP
 * requests" are the channel's POSTs to the relay (the simulator's CORS preflights, which a Roku
 * does not send, are not counted).
 */
import { createHash } from 'crypto';
import { buildChannel } from '../scripts/build';
import { runInSimulator } from '../scripts/lib/simulator';
import { startLocalStack } from '../scripts/lib/local-stack';

export interface LaunchFigures {
    /** ms from the channel's start to AppLaunchComplete, per run. */
    launchMs: number[];
    /** HTTP requests the channel made before its first screen, per run. */
    requestsBeforeFirstScreen: number[];
    firstScreen: string;
}

export interface PurchaseFigures {
    /** Commands the flow sent to the Cleeng Task plus events it got back, Select to confirmed. */
    taskRoundTrips: number;
    storeCommands: number;
    /** Every request the channel made to the relay, Select to Cleeng's confirmation. */
    httpRequests: number;
    /** Cleeng calls for the purchase (receipt POSTs and entitlement checks), Select to confirmed. */
    cleengCalls: number;
    registryWrites: number;
    /** ms from the viewer's Select on a plan to the content (provisional access after Roku's order). */
    msToContent: number;
    /** ms from the Select to Cleeng's confirmed grant (background checks). */
    msToConfirmed: number;
}

export interface ChannelBenchResult {
    newViewer: LaunchFigures;
    subscriber: LaunchFigures;
    purchase: PurchaseFigures;
}

const EMAIL = 'bench.viewer@example.com';
/** The service's console line for Cleeng's grant. */
const GRANTED = /^\[cleeng\] access \S+ granted=true/;

function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

export { median };

export async function runChannelBench(opts: { runs?: number } = {}): Promise<ChannelBenchResult> {
    const runs = opts.runs ?? 3;
    const stack = await startLocalStack({ cleeng: { grantDelayMs: 1000 } });
    const emulator = stack.cleeng;
    const channelRequests = (): number => stack.relayRequests().filter((e) => e.method === 'POST').length;
    try {
        const env = { CHANNEL_ENV: 'local', CLEENG_MODE: 'relay', RELAY_URL: stack.relayUrl };
        const newViewerApp = (await buildChannel({ target: 'e2e', csfake: 'new-viewer', outFile: 'out/bench/e2e-new-viewer.zip', quiet: true, env })).zipPath;
        const subscriberApp = (await buildChannel({ target: 'e2e', csfake: 'active-subscriber', outFile: 'out/bench/e2e-subscriber.zip', quiet: true, env })).zipPath;

        const launch = async (app: string, registry: Record<string, Record<string, string>>): Promise<LaunchFigures> => {
            const figures: LaunchFigures = { launchMs: [], requestsBeforeFirstScreen: [], firstScreen: '' };
            for (let i = 0; i < runs; i++) {
                emulator.reset();
                stack.relayLog.length = 0;
                let startedAt = 0;
                let launchedAt = 0;
                let requestsAtLaunch = -1;
                const result = await runInSimulator({
                    app,
                    timeoutMs: 30000,
                    registry,
                    launchParams: { store: 'emulator' },
                    onLine: (line) => {
                        if (line.startsWith('------ Running')) {
                            startedAt = Date.now();
                        } else if (line === '[flow] AppLaunchComplete' && launchedAt === 0) {
                            launchedAt = Date.now();
                            requestsAtLaunch = channelRequests();
                        } else if (line.startsWith('[flow] screen ') && !figures.firstScreen && !line.endsWith('progress')) {
                            figures.firstScreen = line.slice('[flow] screen '.length);
                        }
                    },
                    keys: [{ when: '[flow] AppLaunchComplete', waitMs: 1500, key: 'Back' }, { waitMs: 1000, key: 'Back' }]
                });
                if (!result.ok || launchedAt === 0) {
                    throw new Error(`launch run failed: ${result.message}`);
                }
                figures.launchMs.push(launchedAt - startedAt);
                figures.requestsBeforeFirstScreen.push(requestsAtLaunch);
            }
            return figures;
        };

        const newViewer = await launch(newViewerApp, {});
        const now = Math.floor(Date.now() / 1000);
        const grant = {
            offerId: 'S123123123_US',
            expiresAt: now + 30 * 86400,
            checkedAt: now,
            customer: createHash('sha256').update(EMAIL.toLowerCase()).digest('hex')
        };
        const subscriber = await launch(subscriberApp, {
            cleeng_identity: { email: EMAIL },
            cleeng_access: { 'g.S123123123_US': JSON.stringify(grant) }
        });

        // One purchase, from the catalog to access.
        emulator.reset();
        stack.relayLog.length = 0;
        let writesAtSelect = -1;
        let writes = 0;
        let selectAt = 0;
        let contentAt = 0;
        let confirmedAt = 0;
        let requestsAtSelect = 0;
        const cleengCalls = (): number => stack.relayRequests().filter((e) => e.method === 'POST' && (e.path === '/v1/roku/receipts' || e.path === '/v1/entitlements/check')).length;
        let callsAtSelect = 0;
        const result = await runInSimulator({
            app: newViewerApp,
            timeoutMs: 90000,
            launchParams: { store: 'emulator', email: EMAIL },
            onRegistryWrite: (count) => {
                writes = count;
            },
            onLine: (line) => {
                // The first effect of the Select on a plan: the RFI request.
                if (line === '[flow] -> store getUserData' && selectAt === 0) {
                    writesAtSelect = writes;
                    selectAt = Date.now();
                    requestsAtSelect = channelRequests();
                    callsAtSelect = cleengCalls();
                } else if (line === '[flow] screen access' && contentAt === 0) {
                    contentAt = Date.now();
                } else if (GRANTED.test(line) && confirmedAt === 0) {
                    confirmedAt = Date.now();
                }
            },
            keys: [
                { when: '[flow] screen catalog', waitMs: 500, key: 'Select' },
                { when: GRANTED, waitMs: 200, key: 'Back' }
            ]
        });
        if (!result.ok || contentAt === 0 || confirmedAt === 0) {
            throw new Error(`purchase run failed: ${result.message}`);
        }
        const from = result.lines.indexOf('[flow] -> store getUserData');
        const to = result.lines.findIndex((l) => GRANTED.test(l));
        const between = result.lines.slice(from, to + 1);
        const cleengCommands = between.filter((l) => l.startsWith('[flow] -> cleeng ')).length;
        const cleengEvents = between.filter((l) => /^\[cleeng\] (receipt \S+ (accepted|retrying|deferred|rejected|unauthorized|owned)|access )/.test(l)).length;
        const purchase: PurchaseFigures = {
            taskRoundTrips: cleengCommands + cleengEvents,
            storeCommands: between.filter((l) => l.startsWith('[flow] -> store ')).length,
            httpRequests: channelRequests() - requestsAtSelect,
            cleengCalls: cleengCalls() - callsAtSelect,
            registryWrites: writes - writesAtSelect,
            msToContent: contentAt - selectAt,
            msToConfirmed: confirmedAt - selectAt
        };
        return { newViewer, subscriber, purchase };
    } finally {
        await stack.close();
    }
}

if (require.main === module) {
    runChannelBench().then(
        (r) => {
            console.log(JSON.stringify(r, null, 2));
            process.exit(0);
        },
        (err: unknown) => {
            console.error((err as Error).message);
            process.exit(1);
        }
    );
}
