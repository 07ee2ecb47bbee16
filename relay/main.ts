/**
 * Relay entry point. Configuration comes from the environment only (docs/relay.md).
 *   npx ts-node relay/main.ts
 *   node dist/relay/relay/main.js            (after: npx tsc -p relay/tsconfig.build.json)
 * Stops gracefully on SIGTERM / SIGINT: no new connections, in-flight requests finish.
 */
import { ConfigError, loadRelayConfigFromEnv } from './config';
import { startRelay } from './server';

async function main(): Promise<void> {
    let config;
    try {
        config = loadRelayConfigFromEnv(process.env);
    } catch (e) {
        if (e instanceof ConfigError) {
            process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: 'config', problems: e.problems })}\n`);
            process.exit(2);
        }
        throw e;
    }
    const relay = await startRelay(config);
    let stopping = false;
    const stop = (signal: string): void => {
        if (stopping) {
            return;
        }
        stopping = true;
        process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', msg: 'shutting down', signal })}\n`);
        relay.close().then(
            () => process.exit(0),
            () => process.exit(1),
        );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: NodeJS.ErrnoException) => {
    // Only the error code (e.g. EADDRINUSE): messages are not guaranteed free of configuration values.
    const code = typeof e?.code === 'string' ? e.code : 'unknown';
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: 'relay failed to start', code })}\n`);
    process.exit(1);
});
