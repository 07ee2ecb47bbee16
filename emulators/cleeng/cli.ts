/**
 * Run the Cleeng emulator by hand:
 *   npx ts-node emulators/cleeng/cli.ts [--port 8788] [--grant-delay-ms 3000 | --grant-delay 2000-4000]
 *                                       [--publisher-token TOKEN] [--offers S123123123_US,S123123124_US]
 * Prints its URL, then one JSON line per request (method, path, status, request id; never tokens
 * or emails). Stops on SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_EMULATOR_PUBLISHER_TOKEN, startCleengEmulator } from './emulator';

function parseDelay(values: { 'grant-delay-ms'?: string; 'grant-delay'?: string }): number | { min: number; max: number } | undefined {
    if (values['grant-delay-ms'] !== undefined) {
        const n = Number(values['grant-delay-ms']);
        if (!Number.isFinite(n)) {
            throw new Error('--grant-delay-ms must be a number');
        }
        return n;
    }
    const range = values['grant-delay'];
    if (range !== undefined) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
        if (!m) {
            throw new Error('--grant-delay must look like 2000-4000');
        }
        const min = Number(m[1]);
        return { min, max: m[2] === undefined ? min : Number(m[2]) };
    }
    return undefined;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            port: { type: 'string', default: '0' },
            'grant-delay-ms': { type: 'string' },
            'grant-delay': { type: 'string' },
            'publisher-token': { type: 'string' },
            offers: { type: 'string' },
            quiet: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
    });
    if (values.help) {
        process.stdout.write(
            'Usage: npx ts-node emulators/cleeng/cli.ts [--port N] [--grant-delay-ms N | --grant-delay MIN-MAX]\n' +
                '       [--publisher-token TOKEN] [--offers ID,ID] [--quiet]\n',
        );
        return;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error('--port must be 0-65535');
    }
    const emu = await startCleengEmulator({
        port,
        grantDelayMs: parseDelay(values),
        publisherToken: values['publisher-token'] ?? DEFAULT_EMULATOR_PUBLISHER_TOKEN,
        offers: values.offers ? values.offers.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
        log: values.quiet ? undefined : (line) => process.stdout.write(line + '\n'),
    });
    process.stdout.write(`Cleeng emulator listening on ${emu.url}\n`);
    const stop = (): void => {
        emu.close().then(
            () => process.exit(0),
            () => process.exit(1),
        );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
}

main().catch((e: Error) => {
    process.stderr.write(`cleeng emulator: ${e.message}\n`);
    process.exit(1);
});
