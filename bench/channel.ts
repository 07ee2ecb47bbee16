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
    /** Commands the flow sent to the Cleeng Task plus events it got back. */
    taskRoundTrips: number;
    storeCommands: number;
    httpRequests: number;
    registryWrites: number;
    msToAccess: number;
}

export interface ChannelBenchResult {
    newViewer: LaunchFigures;
    subscriber: LaunchFigures;
    purchase: PurchaseFigures;
}

const EMAIL = 'bench.viewer@example.com';

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
        let writesAtCatalog = -1;
        let writesAtAccess = -1;
        let writes = 0;
        let catalogAt = 0;
        let accessAt = 0;
        let requestsAtCatalog = 0;
        const result = await runInSimulator({
            app: newViewerApp,
            timeoutMs: 60000,
            launchParams: { store: 'emulator', email: EMAIL },
            onRegistryWrite: (count) => {
                writes = count;
            },
            onLine: (line) => {
                if (line === '[flow] screen catalog' && writesAtCatalog < 0) {
                    writesAtCatalog = writes;
                    catalogAt = Date.now();
                    requestsAtCatalog = channelRequests();
                } else if (line === '[flow] screen access' && writesAtAccess < 0) {
                    writesAtAccess = writes;
                    accessAt = Date.now();
                }
            },
            keys: [{ when: '[flow] screen catalog', waitMs: 500, key: 'Select' }, { when: '[flow] screen access', waitMs: 500, key: 'Back' }]
        });
        if (!result.ok || writesAtAccess < 0) {
            throw new Error(`purchase run failed: ${result.message}`);
        }
        const between = result.lines.slice(result.lines.indexOf('[flow] screen catalog'), result.lines.indexOf('[flow] screen access') + 1);
        const cleengCommands = between.filter((l) => l.startsWith('[flow] -> cleeng ')).length;
        const cleengEvents = between.filter((l) => l.startsWith('[cleeng] ')).length;
        const purchase: PurchaseFigures = {
            taskRoundTrips: cleengCommands + cleengEvents,
            storeCommands: between.filter((l) => l.startsWith('[flow] -> store ')).length,
            httpRequests: channelRequests() - requestsAtCatalog,
            registryWrites: writesAtAccess - writesAtCatalog,
            msToAccess: accessAt - catalogAt
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
