/**
 * npm run sideload, end to end against the fake Roku on loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { run as sideload } from '../../scripts/sideload';
import { brokenChannel, captureContext, cleanupTemp, fakeRunner, helloChannel, rokuEnv, tempDir, until } from './support';

const PASSWORD = 'Sid3load-Secret';
const repoRoot = path.resolve(__dirname, '..', '..');

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    return port;
}

describe('npm run sideload', { timeout: 120000 }, () => {
    let roku: FakeRoku;
    const fake = fakeRunner({ lines: ['hello from the device test'], end: 'never' });
    let hello: string;
    let broken: string;

    before(async () => {
        roku = await startFakeRoku({ password: PASSWORD, runner: fake.runner });
        hello = helloChannel(tempDir('hello'));
        broken = brokenChannel(tempDir('broken'));
    });
    after(async () => {
        await roku.close();
        cleanupTemp();
    });

    it('installs a channel folder and starts it; never prints the password', async () => {
        const cwd = tempDir('cwd');
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        const code = await sideload(['--staging', hello], ctx);
        assert.equal(code, 0, ctx.all());
        assert.match(ctx.out.join(''), /✔ installed out\/device\/sideload\.zip on 127\.0\.0\.1:\d+ \(successful deploy\); the channel is starting/);
        await roku.idle();
        assert.equal(roku.installed?.title, 'Device Test');
        assert.equal(roku.running, true);
        assert.ok(fs.existsSync(path.join(cwd, 'out', 'device', 'sideload.zip')));
        assert.doesNotMatch(ctx.all(), new RegExp(PASSWORD));
    });

    it('installs a given zip with --host/--password flags, overriding the environment', async () => {
        const cwd = tempDir('cwd');
        const zip = path.join(cwd, 'out', 'device', 'sideload.zip');
        assert.equal(await sideload(['--staging', hello], captureContext(rokuEnv(roku, PASSWORD), cwd)), 0);
        const env = rokuEnv(roku, 'wrong-in-env', { ROKU_HOST: '192.0.2.1' });
        const ctx = captureContext(env, cwd);
        const code = await sideload(['--zip', zip, '--host', '127.0.0.1', '--password', PASSWORD], ctx);
        assert.equal(code, 0, ctx.all());
        assert.match(ctx.out.join(''), /identical to previous version/);
    });

    it('reads ROKU_* from an untracked .env in the working folder; real variables win over the file', async () => {
        const cwd = tempDir('dotenv');
        const wrongPort = await closedPort();
        fs.writeFileSync(
            path.join(cwd, '.env'),
            `ROKU_HOST=${roku.host}\nROKU_PASSWORD=${PASSWORD}\nROKU_HTTP_PORT=${wrongPort}\nROKU_CONSOLE_PORT=${roku.ports.console}\n`
        );
        // The file's HTTP port is wrong; the real variable overrides it.
        const ctx = captureContext({ ROKU_HTTP_PORT: String(roku.ports.http) }, cwd);
        assert.equal(await sideload(['--staging', hello], ctx), 0, ctx.all());
        const bad = captureContext({}, cwd);
        assert.equal(await sideload(['--staging', hello], bad), 1, 'with only the file, its port is used and fails');
        assert.match(bad.err.join(''), new RegExp(`cannot reach the Roku's developer web server at 127\\.0\\.0\\.1:${wrongPort} \\(ECONNREFUSED\\)`));
    });

    it('a wrong password is one clear line, exit 1, without any password in the output', async () => {
        const ctx = captureContext(rokuEnv(roku, 'not-the-password'), tempDir('cwd'));
        const code = await sideload(['--staging', hello], ctx);
        assert.equal(code, 1);
        const err = ctx.err.join('');
        assert.equal(err.trim().split('\n').length, 1, err);
        assert.match(err, /^✖ the Roku at 127\.0\.0\.1:\d+ rejected the developer password \(HTTP 401\)/);
        assert.doesNotMatch(ctx.all(), /not-the-password/);
    });

    it('an unreachable device is one clear line, exit 1', async () => {
        const env = rokuEnv(roku, PASSWORD, { ROKU_HTTP_PORT: String(await closedPort()) });
        const ctx = captureContext(env, tempDir('cwd'));
        assert.equal(await sideload(['--staging', hello], ctx), 1);
        assert.match(ctx.err.join(''), /^✖ cannot reach the Roku's developer web server at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    });

    it('missing settings are a usage error (exit 2) naming the variables', async () => {
        const ctx = captureContext({}, tempDir('cwd'));
        assert.equal(await sideload(['--staging', hello], ctx), 2);
        assert.match(ctx.err.join(''), /missing device settings: ROKU_HOST, ROKU_PASSWORD/);
        const bad = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        assert.equal(await sideload(['--staging', hello, '--bogus'], bad), 2);
        assert.match(bad.err.join(''), /Unknown option '--bogus'/);
    });

    it('a compile failure prints the device\'s own error lines from the console', async () => {
        const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        const code = await sideload(['--staging', broken], ctx);
        assert.equal(code, 1);
        const err = ctx.err.join('');
        assert.match(err, /^✖ the Roku could not compile the channel \(Install Failure: Compilation Failed\.\)\n/);
        assert.match(err, /\n {4}--- Syntax Error\. \(compile error &h02\) in pkg:\/source\/main\.brs\(3\)\n/);
        assert.match(err, /\n {4}\*\*\* ERROR compiling dev 'Device Test': Compilation Failed\.\n/);
    });

    it('still installs when the console is in use, and says why compile errors cannot be shown', async () => {
        await until(() => !roku.consoleConnected, 30000, 'the console to be free');
        const holder = net.connect(roku.ports.console, '127.0.0.1');
        await until(() => roku.consoleConnected, 30000, 'the holder to own the console');
        try {
            const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
            assert.equal(await sideload(['--staging', broken], ctx), 1);
            const err = ctx.err.join('');
            assert.match(err, /console is in use by another client; installing anyway/);
            assert.match(err, /the device console was not available/);
        } finally {
            holder.destroy();
        }
    });

    it('as a process: npm run sideload exits 1 with one line for a wrong password', async () => {
        const staging = hello;
        const child = spawn(process.execPath, ['--require', require.resolve('ts-node/register'), path.join(repoRoot, 'scripts', 'sideload.ts'), '--staging', staging], {
            cwd: tempDir('proc'),
            env: { ...process.env, ...rokuEnv(roku, 'Wr0ng-Pass'), TS_NODE_TRANSPILE_ONLY: '1', TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json') },
            stdio: ['ignore', 'pipe', 'pipe']
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        const code = await new Promise<number | null>((r) => child.on('close', r));
        assert.equal(code, 1, out + err);
        assert.match(err, /^✖ the Roku at 127\.0\.0\.1:\d+ rejected the developer password \(HTTP 401\): check ROKU_PASSWORD \/ --password/);
        assert.doesNotMatch(out + err, /Wr0ng-Pass/);
    });
});
