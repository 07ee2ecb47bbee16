/**
 * `npm start`: the whole purchase flow with no Roku and no Cleeng account, through what ships.
 * It starts the Cleeng fake and the real relay (the code `npm run relay` runs) in this process on
 * loopback, builds the channel (e2e build: the channel plus the test store emulator answering
 * from a csFake scenario) aimed at the relay, and serves it in the simulator on a local web page
 * where the keyboard is the remote. The channel's console, the relay's log lines and the fake's
 * request lines are printed here.
 *
 *   channel (simulator page) → relay (embedded) → Cleeng fake (embedded)
 *
 *   npm start                                   new-viewer scenario, embedded relay + Cleeng fake
 *   npm start -- --csfake active-subscriber     another scenario (folder under test/csfake/ or a path)
 *   npm start -- --relay-url https://relay.example.com   your own relay instead (nothing embedded)
 *   npm start -- --prod                         the production build (real ChannelStore node)
 *   npm start -- --port 7000 --host 0.0.0.0
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel, BuildError, loadEnv } from './build';
import { startLocalStack, type LocalStack } from './lib/local-stack';
import { startSimServer } from './lib/sim-server';

interface StartOptions {
    port: number;
    host: string;
    open: boolean;
    csfake: string;
    relayUrl?: string;
    prod: boolean;
}

function parseArgs(argv: string[]): StartOptions {
    const opts: StartOptions = {
        port: Number(process.env.START_PORT ?? 6502),
        host: process.env.START_HOST ?? '127.0.0.1',
        open: true,
        csfake: process.env.CSFAKE_SCENARIO ?? 'new-viewer',
        relayUrl: process.env.RELAY_URL,
        prod: false
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--port') {
            opts.port = Number(argv[++i]);
        } else if (arg === '--host') {
            opts.host = argv[++i] ?? opts.host;
        } else if (arg === '--no-open') {
            opts.open = false;
        } else if (arg === '--csfake') {
            opts.csfake = argv[++i] ?? opts.csfake;
        } else if (arg === '--relay-url') {
            opts.relayUrl = argv[++i];
        } else if (arg === '--prod') {
            opts.prod = true;
        } else if (arg === '--help' || arg === '-h') {
            console.log('usage: npm start -- [--csfake <scenario|dir>] [--relay-url <url>] [--prod] [--port 6502] [--host 127.0.0.1] [--no-open]');
            process.exit(0);
        } else {
            throw new Error(`unknown option ${arg}`);
        }
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
        throw new Error('--port needs a port number');
    }
    return opts;
}

export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
    return !env.CI && Boolean(env.DISPLAY || env.WAYLAND_DISPLAY || process.platform === 'darwin' || process.platform === 'win32');
}

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2));
    let stack: LocalStack | undefined;
    let relayUrl = opts.relayUrl;
    if (!relayUrl) {
        stack = await startLocalStack({
            cleeng: { port: Number(process.env.CLEENG_EMULATOR_PORT ?? 0), log: (line) => console.log(`[cleeng-fake] ${line}`) },
            relay: process.env.RELAY_PORT ? { port: Number(process.env.RELAY_PORT) } : {},
            onRelayLog: (line) => console.log(`[relay] ${line}`)
        });
        relayUrl = stack.relayUrl;
        console.log(`Cleeng fake on ${stack.cleeng.url} (grants access 2-4 s after a receipt; faults: POST ${stack.cleeng.url}/__emulator/fault)`);
        console.log(`relay on ${relayUrl}, in front of the Cleeng fake; the channel talks to the relay`);
    }
    const env = { ...loadEnv(process.cwd()), RELAY_URL: relayUrl, CLEENG_MODE: 'relay' };
    const built = await buildChannel({ target: opts.prod ? 'prod' : 'e2e', csfake: opts.prod ? undefined : opts.csfake, quiet: true, env });
    console.log(`built ${path.relative(process.cwd(), built.zipPath)} in ${(built.durationMs / 1000).toFixed(1)} s${opts.prod ? '' : ` (store emulator, csFake scenario ${opts.csfake})`}`);
    const server = await startSimServer({
        zip: fs.readFileSync(built.zipPath),
        host: opts.host,
        port: opts.port,
        config: { interactive: true, developerId: 'dev', launchParams: opts.prod ? {} : { store: 'emulator' }, registry: {} },
        onEvent: (kind, data) => {
            const d = data as { level?: string; content?: string; reason?: string };
            if (kind === 'debug') {
                const text = String(d.content ?? '').replace(/\r?\n$/, '');
                console.log(d.level && d.level !== 'print' ? `[${d.level}] ${text}` : text);
            } else if (kind === 'closed') {
                console.log(`channel closed (${String(d.reason)}); reload the page to run it again`);
            }
        }
    });
    const url = `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${server.port}/`;
    console.log(`\nThe channel is running in the simulator at ${url}`);
    console.log('Remote: arrow keys move, Enter = OK/Select, Esc or Delete = Back, Home = Home, End = Play, Backspace = Instant Replay.');
    if (opts.open && canOpenBrowser()) {
        const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start' : 'xdg-open';
        spawn(opener, [url], { stdio: 'ignore', detached: true }).on('error', () => console.log(`Open ${url} in Chrome or Chromium.`)).unref();
    } else {
        console.log(`No display here${process.env.CI ? ' (CI)' : ''}: open ${url} in Chrome, Chromium or Edge on this machine,`);
        console.log('or forward the port (ssh -L 6502:127.0.0.1:6502 <host>) and open it on yours. The page needs');
        console.log('cross-origin isolation, which this server sends; plain file:// will not work.');
    }
    console.log('Press Ctrl+C to stop.\n');
    const stop = (): void => {
        void Promise.all([server.close(), stack?.close()]).then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
    if (err instanceof BuildError) {
        err.diagnostics.forEach((d) => console.error(d));
    }
    console.error(`npm start failed: ${(err as Error).message}`);
    process.exit(1);
});
