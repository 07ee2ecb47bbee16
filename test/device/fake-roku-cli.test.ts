/**
 * npm run fake-roku as a process: prints where it listens, serves, and stops on SIGINT/SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RokuDeploy } from 'roku-deploy';

const repoRoot = path.resolve(__dirname, '..', '..');

function startCli(args: string[]) {
    const child = spawn(process.execPath, ['--require', require.resolve('ts-node/register'), path.join(repoRoot, 'emulators', 'roku', 'cli.ts'), ...args], {
        cwd: repoRoot,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const ready = async () => {
        const start = Date.now();
        while (!/Ctrl-C stops it/.test(out)) {
            if (Date.now() - start > 30000 || child.exitCode !== null) {
                throw new Error(`fake-roku did not start:\n${out}\n${err}`);
            }
            await new Promise((r) => setTimeout(r, 50));
        }
    };
    return { child, exited, ready, out: () => out, err: () => err };
}

describe('npm run fake-roku', { timeout: 60000 }, () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        it(`prints host, ports and password, answers on them, and stops on ${signal}`, async () => {
            const cli = startCli(['--runner', 'none', '--password', 'cli-pass', '--http-port', '0', '--ecp-port', '0', '--console-port', '0']);
            try {
                await cli.ready();
                const out = cli.out();
                const http = Number(/developer web server {2}http:\/\/127\.0\.0\.1:(\d+)\/ {3}user rokudev, password cli-pass/.exec(out)?.[1]);
                const ecp = Number(/ECP {19}http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]);
                assert.ok(http > 0 && ecp > 0, out);
                assert.match(out, /export ROKU_HOST=127\.0\.0\.1 ROKU_PASSWORD=cli-pass ROKU_HTTP_PORT=\d+ ROKU_ECP_PORT=\d+ ROKU_CONSOLE_PORT=\d+/);
                const rd = new RokuDeploy();
                assert.equal(await rd.validateDeveloperPassword({ host: '127.0.0.1', port: http, password: 'cli-pass' }), true);
                const info = await fetch(`http://127.0.0.1:${ecp}/query/device-info`);
                assert.match(await info.text(), /<developer-enabled>true<\/developer-enabled>/);
                cli.child.kill(signal);
                assert.equal(await cli.exited, 0, cli.err());
                assert.match(cli.out(), new RegExp(`${signal}: stopping the fake Roku`));
                await assert.rejects(fetch(`http://127.0.0.1:${ecp}/query/device-info`));
            } finally {
                cli.child.kill('SIGKILL');
            }
        });
    }

    it('explains a port that is already taken', async () => {
        const net = await import('node:net');
        const server = net.createServer();
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const taken = (server.address() as import('node:net').AddressInfo).port;
        try {
            const cli = startCli(['--runner', 'none', '--http-port', String(taken), '--ecp-port', '0', '--console-port', '0']);
            assert.equal(await cli.exited, 1);
            assert.match(cli.err(), /fake-roku: a port is already in use .*--http-port\/--ecp-port\/--console-port, or 0 for any/);
        } finally {
            server.close();
        }
    });
});
