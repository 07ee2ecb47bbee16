/**
 * The chain the channel talks to when there is no Cleeng account: the real relay (relay/, the
 * code `npm run relay` starts) in this process, in front of the Cleeng fake (emulators/cleeng/).
 * Both listen on 127.0.0.1; the relay on port 0 unless told otherwise. Used by `npm start`, the
 * end-to-end tests and the benchmarks.
 *
 *   channel (simulator) --/v1/...--> relay --/roku/payment, JSON-RPC--> Cleeng fake
 */
import { startRelay, type RelayConfigInput, type RelayHandle } from '../../relay';
import { startCleengEmulator, type CleengEmulator, type CleengEmulatorOptions } from '../../emulators/cleeng';

/** Relay settings a caller may change (the Cleeng URLs and the token default to the fake's). */
export type RelayOverrides = Partial<RelayConfigInput>;

export interface LocalStackOptions {
    cleeng?: CleengEmulatorOptions;
    relay?: RelayOverrides;
    /** Each relay log line (JSON). Default: kept in `relayLog` only. */
    onRelayLog?: (line: string) => void;
}

export interface LocalStack {
    cleeng: CleengEmulator;
    /** The relay's base URL: what the channel is built with (RELAY_URL). Stable across `restartRelay`. */
    relayUrl: string;
    relay: RelayHandle;
    /** Every relay log line since the stack started (JSON text; the relay keeps secrets and emails out). */
    relayLog: string[];
    /** Relay log lines parsed, for assertions (`msg`, `status`, `code`, `path`, …). */
    relayRequests(): Record<string, unknown>[];
    /**
     * Stop the relay and start it again on the same port with these settings on top of the
     * stack's own (a deploy with another configuration). In-flight requests are cut.
     */
    restartRelay(overrides?: RelayOverrides): Promise<void>;
    /**
     * A relay with no memory: restarted with the stack's own settings and none of the state
     * (delivered purchases, customer tokens, rate windows) of earlier runs. Tests call it between
     * cases, since csFake scenarios reuse their Roku transaction IDs.
     */
    resetRelay(): Promise<void>;
    close(): Promise<void>;
}

/** Relay settings for a local run: the fake's URLs and token, CORS for the simulator, quick retries. */
export function localRelayConfig(cleeng: CleengEmulator, publisherToken: string, port: number, log: (line: string) => void, overrides: RelayOverrides = {}): RelayConfigInput {
    return {
        publisherToken,
        cleengEnv: 'sandbox',
        cleengRokuPaymentUrl: `${cleeng.url}/roku/payment`,
        cleengAndroidPaymentUrl: `${cleeng.url}/android/payment`,
        cleengJsonRpcUrl: `${cleeng.url}/3.0/json-rpc`,
        host: '127.0.0.1',
        port,
        // roUrlTransfer in the simulator is browser XHR: CORS applies.
        cors: '*',
        upstreamTimeoutMs: 5_000,
        retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
        retryAfterSec: 2,
        rateLimit: { windowMs: 60_000, perIp: 100_000, perEmail: 100_000 },
        shutdownGraceMs: 200,
        logSink: log,
        ...overrides,
    };
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
    const cleeng = await startCleengEmulator(opts.cleeng);
    const publisherToken = opts.cleeng?.publisherToken ?? 'emulator-publisher-token';
    const relayLog: string[] = [];
    const log = (line: string): void => {
        relayLog.push(line);
        opts.onRelayLog?.(line);
    };
    let relay: RelayHandle;
    try {
        relay = await startRelay(localRelayConfig(cleeng, publisherToken, 0, log, opts.relay));
    } catch (e) {
        await cleeng.close();
        throw e;
    }
    const port = relay.port;
    const stack: LocalStack = {
        cleeng,
        relayUrl: `http://127.0.0.1:${port}`,
        relay,
        relayLog,
        relayRequests: () =>
            relayLog
                .map((l) => {
                    try {
                        return JSON.parse(l) as Record<string, unknown>;
                    } catch {
                        return {};
                    }
                })
                .filter((e) => e.msg === 'request'),
        restartRelay: async (overrides = {}) => {
            await stack.relay.close();
            stack.relay = await startRelay(localRelayConfig(cleeng, publisherToken, port, log, { ...opts.relay, ...overrides }));
        },
        // The relay keeps its state in memory: a restart starts from nothing.
        resetRelay: () => stack.restartRelay(),
        close: async () => {
            await Promise.all([stack.relay.close(), cleeng.close()]);
        },
    };
    return stack;
}
