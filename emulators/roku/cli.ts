/**
 * npm run fake-roku -- [options]
 *
 * Starts a fake Roku on 127.0.0.1 that installed channels run in (the brs-engine simulator in
 * headless Chromium), and prints how to point the device scripts at it. Stops on Ctrl-C / SIGTERM.
 */
import { parseArgs } from 'util';
import { startFakeRoku, type FakeRoku } from './fake-roku';
import { simulatorRunner, simulatorWorkarounds, type Runner } from './runner';

const HELP = `usage: npm run fake-roku -- [options]

A fake Roku on loopback for trying the device scripts without a device.

options:
  --password <pw>          developer web server password (default: $FAKE_ROKU_PASSWORD or "rokudev")
  --signing-password <pw>  password of the device's signing key (default: $FAKE_ROKU_SIGNING_PASSWORD or random)
  --http-port <n>          developer web server port (default 8480; a real device uses 80)
  --ecp-port <n>           ECP port (default 8060)
  --console-port <n>       BrightScript console port (default 8085)
                           0 for any port picks a free one
  --runner simulator|none  run installed channels in the simulator (default) or only install them
  --no-workarounds         run zips as installed, without the simulator's engine workarounds
  --disable-web-security   let channels reach servers that send no CORS headers
  --verbose                log every request (never passwords)
  -h, --help               this help
`;

function port(value: string | undefined, fallback: number, flag: string): number {
    if (value === undefined) {
        return fallback;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
        throw new Error(`${flag} must be a port number (0-65535), not ${JSON.stringify(value)}`);
    }
    return n;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            password: { type: 'string' },
            'signing-password': { type: 'string' },
            'http-port': { type: 'string' },
            'ecp-port': { type: 'string' },
            'console-port': { type: 'string' },
            runner: { type: 'string' },
            'no-workarounds': { type: 'boolean' },
            'disable-web-security': { type: 'boolean' },
            verbose: { type: 'boolean' },
            help: { type: 'boolean', short: 'h' }
        },
        strict: true
    });
    if (values.help) {
        process.stdout.write(HELP);
        return;
    }
    const runnerName = values.runner ?? 'simulator';
    if (runnerName !== 'simulator' && runnerName !== 'none') {
        throw new Error(`--runner must be simulator or none, not ${JSON.stringify(runnerName)}`);
    }
    const runner: Runner | undefined = runnerName === 'simulator' ? await simulatorRunner() : undefined;
    const password = values.password ?? process.env.FAKE_ROKU_PASSWORD ?? 'rokudev';
    const roku: FakeRoku = await startFakeRoku({
        password,
        signingPassword: values['signing-password'] ?? process.env.FAKE_ROKU_SIGNING_PASSWORD,
        runner,
        transformApp: runner && !values['no-workarounds'] ? simulatorWorkarounds : undefined,
        runnerOptions: { disableWebSecurity: values['disable-web-security'] === true },
        ports: {
            http: port(values['http-port'], 8480, '--http-port'),
            ecp: port(values['ecp-port'], 8060, '--ecp-port'),
            console: port(values['console-port'], 8085, '--console-port')
        },
        log: values.verbose ? (line) => process.stderr.write(`[fake-roku] ${line}\n`) : undefined
    });
    const { host, ports } = roku;
    process.stdout.write(
        [
            `Fake Roku on ${host}${runner ? ' (channels run in the simulator)' : ' (channels are installed, not run)'}`,
            `  developer web server  http://${host}:${ports.http}/   user rokudev, password ${password}`,
            `  ECP                   http://${host}:${ports.ecp}/`,
            `  console               ${host} ${ports.console}   (nc ${host} ${ports.console})`,
            `  signing password      ${roku.signingPassword}   (developer id ${roku.devId})`,
            '',
            'Point the device scripts at it:',
            `  export ROKU_HOST=${host} ROKU_PASSWORD=${password} ROKU_HTTP_PORT=${ports.http} ROKU_ECP_PORT=${ports.ecp} ROKU_CONSOLE_PORT=${ports.console}`,
            `  export ROKU_SIGNING_PASSWORD=${roku.signingPassword}`,
            '  npm run test:device',
            '',
            'Ctrl-C stops it.',
            ''
        ].join('\n')
    );
    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) {
            return;
        }
        stopping = true;
        process.stdout.write(`\n${signal}: stopping the fake Roku…\n`);
        const force = setTimeout(() => process.exit(1), 10000);
        force.unref();
        roku.close().then(
            () => process.exit(0),
            () => process.exit(1)
        );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
        process.stderr.write(`fake-roku: a port is already in use (${err.message}); pick others with --http-port/--ecp-port/--console-port, or 0 for any.\n`);
    } else {
        process.stderr.write(`fake-roku: ${err.message}\n`);
    }
    process.exit(1);
});
