/**
 * The fake Roku's wire protocol: digest auth, the developer web server, ECP and the console,
 * exercised with raw HTTP/TCP and with roku-deploy (the client the scripts use).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RokuDeploy } from 'roku-deploy';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { devIdFor, signPackage, verifyPackage } from '../../emulators/roku/pkg';
import { deterministicZip } from '../../scripts/lib/device';
import { brokenChannel, cleanupTemp, fakeRunner, helloChannel, PNG_1X1, tempDir, until, writeChannel } from './support';

const PASSWORD = 'dev-pass-1';
const SIGNING = 'sign-pass-1';

interface RawResponse {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

function request(port: number, method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: url, headers: { Connection: 'close', ...headers }, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(body);
    });
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function challengeOf(res: RawResponse): Record<string, string> {
    const header = String(res.headers['www-authenticate'] ?? '');
    const out: Record<string, string> = {};
    for (const m of header.replace(/^Digest\s+/, '').matchAll(/(\w+)="?([^",]*)"?/g)) {
        out[m[1]] = m[2];
    }
    return out;
}

function authorization(c: Record<string, string>, method: string, uri: string, password: string, nc = '00000001'): string {
    const cnonce = 'abcdef0123456789';
    const ha1 = md5(`rokudev:${c.realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const response = md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`);
    return `Digest username="rokudev", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"`;
}

/** Multipart body of text fields and files. */
function multipart(fields: Record<string, string>, files: Record<string, Buffer> = {}): { body: Buffer; type: string } {
    const boundary = '----fakeroku' + Date.now();
    const parts: Buffer[] = [];
    for (const [k, v] of Object.entries(fields)) {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
    }
    for (const [k, v] of Object.entries(files)) {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"; filename="${k}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`));
        parts.push(v, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

/** An authenticated request: challenge, then the real request with a digest response. */
async function authed(port: number, method: string, url: string, password: string, form?: { body: Buffer; type: string }): Promise<RawResponse> {
    const first = await request(port, method, url);
    assert.equal(first.status, 401);
    const headers: Record<string, string> = { Authorization: authorization(challengeOf(first), method, url, password) };
    if (form) {
        headers['Content-Type'] = form.type;
    }
    return request(port, method, url, headers, form?.body);
}

function connectConsole(port: number): Promise<{ socket: net.Socket; text: () => string; closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let data = '';
        socket.on('data', (c) => (data += c.toString()));
        const closed = new Promise<void>((r) => socket.on('close', () => r()));
        socket.on('error', reject);
        socket.on('connect', () => resolve({ socket, text: () => data, closed }));
    });
}

describe('fake Roku', { timeout: 60000 }, () => {
    let roku: FakeRoku;
    const fake = fakeRunner({ lines: ['first line', 'second line'], end: 'never', screenshot: PNG_1X1 });
    let helloZip: Buffer;
    let brokenZip: Buffer;
    const rd = new RokuDeploy();
    // roku-deploy's own readers of device answers (private in its typings, used here on purpose).
    const reader = rd as unknown as {
        getRokuMessagesFromResponseBody(body: string): { errors: string[]; infos: string[]; successes: string[] };
        getPackagesFromResponseBody(body: string): unknown[];
        isCompileError(body: string): boolean;
    };

    before(async () => {
        roku = await startFakeRoku({ password: PASSWORD, signingPassword: SIGNING, runner: fake.runner });
        helloZip = await deterministicZip(helloChannel(tempDir('hello')));
        brokenZip = await deterministicZip(brokenChannel(tempDir('broken')));
    });
    after(async () => {
        await roku.close();
        cleanupTemp();
    });

    it('listens on loopback only, on three distinct ports', async () => {
        assert.equal(roku.host, '127.0.0.1');
        assert.equal(new Set([roku.ports.http, roku.ports.ecp, roku.ports.console]).size, 3);
        await assert.rejects(startFakeRoku({ password: 'x', host: '0.0.0.0' }), /loopback only/);
    });

    describe('digest auth', () => {
        it('challenges with realm rokudev, qop="auth" and a fresh nonce', async () => {
            const a = await request(roku.ports.http, 'GET', '/plugin_install');
            const b = await request(roku.ports.http, 'GET', '/plugin_install');
            assert.equal(a.status, 401);
            const header = String(a.headers['www-authenticate']);
            assert.match(header, /^Digest /);
            assert.match(header, /realm="rokudev"/);
            assert.match(header, /qop="auth"/);
            assert.notEqual(challengeOf(a).nonce, challengeOf(b).nonce);
        });

        it('accepts the right response hash and rejects a wrong password', async () => {
            assert.equal((await authed(roku.ports.http, 'GET', '/plugin_install', PASSWORD)).status, 200);
            assert.equal((await authed(roku.ports.http, 'GET', '/plugin_install', 'not-it')).status, 401);
        });

        it('rejects a replayed nonce count, an unknown nonce, another uri and another user', async () => {
            const first = await request(roku.ports.http, 'GET', '/plugin_install');
            const c = challengeOf(first);
            const header = authorization(c, 'GET', '/plugin_install', PASSWORD);
            assert.equal((await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: header })).status, 200);
            assert.equal((await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: header })).status, 401, 'the same nc twice is a replay');
            assert.equal(
                (await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: authorization(c, 'GET', '/plugin_install', PASSWORD, '00000002') })).status,
                200,
                'the next nc on the same nonce is fine'
            );
            const unknown = authorization({ ...c, nonce: 'ffffffffffff' }, 'GET', '/plugin_install', PASSWORD);
            assert.equal((await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: unknown })).status, 401);
            const c2 = challengeOf(await request(roku.ports.http, 'GET', '/plugin_install'));
            const otherUri = authorization(c2, 'GET', '/plugin_package', PASSWORD);
            assert.equal((await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: otherUri })).status, 401);
            const c3 = challengeOf(await request(roku.ports.http, 'GET', '/plugin_install'));
            const otherUser = authorization(c3, 'GET', '/plugin_install', PASSWORD).replace('username="rokudev"', 'username="admin"');
            assert.equal((await request(roku.ports.http, 'GET', '/plugin_install', { Authorization: otherUser })).status, 401);
        });

        it('answers HEAD /plugin_install 200 or 401, as roku-deploy validates a password', async () => {
            assert.equal(await rd.validateDeveloperPassword({ host: roku.host, port: roku.ports.http, password: PASSWORD }), true);
            assert.equal(await rd.validateDeveloperPassword({ host: roku.host, port: roku.ports.http, password: 'wrong' }), false);
        });
    });

    describe('plugin_install', () => {
        it('installs a zip, answers in the device HTML style and starts the channel in the runner', async () => {
            const before = fake.calls.length;
            const res = await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: helloZip }));
            assert.equal(res.status, 200);
            const html = res.body.toString();
            assert.match(html, /Shell\.create\('Roku\.Message'\)\.trigger\('Set message type', 'success'\)\.trigger\('Set message content', 'Install Success\.'\)/);
            assert.match(html, /JSON\.parse\('\{"messages":\[.*"text":"Install Success\."/);
            assert.deepEqual(reader.getRokuMessagesFromResponseBody(html).errors, []);
            await roku.idle();
            assert.equal(fake.calls.length, before + 1);
            assert.ok(Buffer.isBuffer(fake.calls.at(-1)!.opts.app));
            assert.ok((fake.calls.at(-1)!.opts.app as Buffer).equals(helloZip), 'the runner gets the installed zip');
            assert.equal(roku.installed?.title, 'Device Test');
            assert.equal(roku.running, true);
            assert.equal(reader.getPackagesFromResponseBody((await authed(roku.ports.http, 'GET', '/plugin_install', PASSWORD)).body.toString()).length, 1);
        });

        it('says "Identical to previous version" for the same zip, and relaunches it', async () => {
            const calls = fake.calls.length;
            const res = await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Install' }, { archive: helloZip }));
            assert.match(res.body.toString(), /Identical to previous version -- not replacing\./);
            await roku.idle();
            assert.equal(fake.calls.length, calls + 1);
            assert.equal(fake.calls.at(-2)!.stopped, true, 'the previous session was stopped');
        });

        it('refuses a zip that does not compile, with the device\'s console lines', async () => {
            const lines: string[] = [];
            const off = roku.onConsoleLine((l) => lines.push(l));
            const res = await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: brokenZip }));
            off();
            const html = res.body.toString();
            assert.match(html, /Install Failure: Compilation Failed/);
            assert.equal(reader.isCompileError(html), true);
            assert.ok(lines.includes("------ Compiling dev 'Device Test' ------"), lines.join('\n'));
            assert.ok(lines.includes('--- Syntax Error. (compile error &h02) in pkg:/source/main.brs(3)'), lines.join('\n'));
            assert.equal(roku.installed, undefined);
            assert.equal(roku.running, false);
        });

        it('refuses a zip without a manifest and a file that is not a zip', async () => {
            const noManifest = await (async () => {
                const JSZip = (await import('jszip')).default;
                const z = new JSZip();
                z.file('source/main.brs', 'sub main()\nend sub\n');
                return z.generateAsync({ type: 'nodebuffer' });
            })();
            const lines: string[] = [];
            const off = roku.onConsoleLine((l) => lines.push(l));
            const a = await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: noManifest }));
            assert.match(a.body.toString(), /Install Failure: Compilation Failed/);
            assert.ok(lines.includes('------->No manifest. Invalid package.'), lines.join('\n'));
            const b = await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: Buffer.from('not a zip at all') }));
            off();
            assert.match(b.body.toString(), /Invalid or corrupt zip archive/);
        });

        it('installs with roku-deploy publish, then Delete stops and removes the channel', async () => {
            const dir = helloChannel(tempDir('publish'), 'published');
            const zipDir = tempDir('publish-zip');
            require('fs').writeFileSync(`${zipDir}/app.zip`, await deterministicZip(dir));
            const result = await rd.publish({
                host: roku.host,
                password: PASSWORD,
                packagePort: roku.ports.http,
                rootDir: zipDir,
                files: ['app.zip'],
                stagingDir: `${zipDir}/staging`,
                outDir: zipDir,
                outFile: 'app.zip',
                logLevel: 'error' as never
            });
            assert.equal(result.message, 'Successful deploy');
            await roku.idle();
            assert.equal(roku.running, true);
            const session = fake.calls.at(-1)!;
            await rd.deleteInstalledChannel({ host: roku.host, password: PASSWORD, packagePort: roku.ports.http, rootDir: zipDir, stagingDir: `${zipDir}/staging`, outDir: zipDir, files: [] });
            assert.equal(session.stopped, true);
            assert.equal(roku.installed, undefined);
            assert.equal(roku.running, false);
        });
    });

    describe('console', () => {
        it('streams the channel\'s lines to one client; a second one is told it is in use and closed', async () => {
            const first = await connectConsole(roku.ports.console);
            await until(() => roku.consoleConnected, 30000, 'the server to register the first client');
            const second = await connectConsole(roku.ports.console);
            await second.closed;
            assert.equal(second.text(), 'Console connection is already in use.\r\n');
            await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: helloZip }));
            await until(() => first.text().includes('second line'), 30000, 'the runner lines on the console');
            assert.match(first.text(), /------ Compiling dev 'Device Test' ------\r\nfirst line\r\nsecond line\r\n/);
            first.socket.destroy();
            await first.closed;
            // Once the server has seen the first client go, the console is free again.
            await until(() => !roku.consoleConnected, 30000, 'the server to see the first client go');
            const third = await connectConsole(roku.ports.console);
            await until(() => roku.consoleConnected, 30000, 'the server to register the third client');
            assert.doesNotMatch(third.text(), /already in use/);
            assert.equal(third.socket.destroyed, false);
            third.socket.destroy();
        });
    });

    describe('ECP', () => {
        it('forwards key presses to the running channel; Home leaves it', async () => {
            await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: await deterministicZip(helloChannel(tempDir('ecp'), 'ecp')) }));
            await roku.idle();
            const session = fake.calls.at(-1)!;
            assert.equal((await request(roku.ports.ecp, 'POST', '/keypress/Select')).status, 200);
            assert.equal((await request(roku.ports.ecp, 'POST', '/keypress/Lit_a')).status, 200);
            assert.deepEqual(session.keys, ['Select', 'Lit_a']);
            const active = (await request(roku.ports.ecp, 'GET', '/query/active-app')).body.toString();
            assert.match(active, /<app id="dev" type="appl" version="2\.3\.0">Device Test<\/app>/);
            assert.equal((await request(roku.ports.ecp, 'POST', '/keypress/Home')).status, 200);
            assert.equal(session.stopped, true);
            assert.match((await request(roku.ports.ecp, 'GET', '/query/active-app')).body.toString(), /<app>Roku<\/app>/);
        });

        it('relaunches the dev channel with deep-link parameters', async () => {
            const calls = fake.calls.length;
            assert.equal((await request(roku.ports.ecp, 'POST', '/launch/dev?contentId=abc&mediaType=movie')).status, 200);
            await roku.idle();
            assert.equal(fake.calls.length, calls + 1);
            assert.deepEqual(fake.calls.at(-1)!.opts.launchParams, { contentId: 'abc', mediaType: 'movie' });
            assert.equal((await request(roku.ports.ecp, 'POST', '/launch/12345')).status, 404);
        });

        it('records input, and answers device-info with the keyed developer id', async () => {
            assert.equal((await request(roku.ports.ecp, 'POST', '/input?contentId=42&mediaType=episode')).status, 200);
            assert.deepEqual(roku.inputs.at(-1), { contentId: '42', mediaType: 'episode' });
            const info = await rd.getDeviceInfo({ host: roku.host, remotePort: roku.ports.ecp, enhance: true });
            assert.equal(info.keyedDeveloperId, devIdFor(SIGNING));
            assert.equal(info.developerEnabled, true);
            assert.equal((await request(roku.ports.ecp, 'GET', '/keypress/Home')).status, 405);
        });
    });

    describe('plugin_package and plugin_inspect', () => {
        it('signs the installed channel; the package downloads with digest auth and verifies with the signing password only', async () => {
            await authed(roku.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: helloZip }));
            await roku.idle();
            const bad = await authed(roku.ports.http, 'POST', '/plugin_package', PASSWORD, multipart({ mysubmit: 'Package', app_name: 'Device Test/2.3', passwd: 'nope', pkg_time: '1700000000000' }));
            assert.deepEqual(reader.getRokuMessagesFromResponseBody(bad.body.toString()).errors, ['Failed: Invalid Password.']);
            const good = await authed(roku.ports.http, 'POST', '/plugin_package', PASSWORD, multipart({ mysubmit: 'Package', app_name: 'Device Test/2.3', passwd: SIGNING, pkg_time: '1700000000000' }));
            const pkgPath = /"pkgPath":"(pkgs\/[^"]+\.pkg)"/.exec(good.body.toString())?.[1];
            assert.ok(pkgPath, good.body.toString());
            assert.match(good.body.toString(), new RegExp(`<a href="${pkgPath}">`));
            assert.equal((await request(roku.ports.http, 'GET', '/' + pkgPath)).status, 401);
            const pkg = (await authed(roku.ports.http, 'GET', '/' + pkgPath, PASSWORD)).body;
            const ok = verifyPackage(pkg, SIGNING);
            assert.equal(ok.ok, true, ok.reason);
            assert.equal(ok.trailer?.appName, 'Device Test/2.3');
            assert.ok(ok.zip?.equals(helloZip));
            assert.equal(verifyPackage(pkg, 'another password').ok, false);
            const tampered = Buffer.from(pkg);
            tampered[10] ^= 0xff;
            assert.equal(verifyPackage(tampered, SIGNING).ok, false);
        });

        it('takes a screenshot of the running channel, served as pkgs/dev.png', async () => {
            const res = await authed(roku.ports.http, 'POST', '/plugin_inspect', PASSWORD, multipart({ mysubmit: 'Screenshot' }));
            const src = /"(pkgs\/dev\.png\?[^"]+)"/.exec(res.body.toString())?.[1];
            assert.ok(src, res.body.toString());
            const png = await authed(roku.ports.http, 'GET', '/' + src, PASSWORD);
            assert.equal(png.headers['content-type'], 'image/png');
            assert.ok(png.body.equals(PNG_1X1));
        });

        it('rekeys with a package signed by another key when given that key\'s password', async () => {
            const other = signPackage(helloZip, { signingPassword: 'other-key', appName: 'X/1.0', pkgTime: '1' });
            const wrong = await authed(roku.ports.http, 'POST', '/plugin_inspect', PASSWORD, multipart({ mysubmit: 'Rekey', passwd: 'not-other' }, { archive: other }));
            assert.match(wrong.body.toString(), /<font color="red">Failed: Invalid Password\.<\/font>/);
            assert.equal(roku.devId, devIdFor(SIGNING));
            const right = await authed(roku.ports.http, 'POST', '/plugin_inspect', PASSWORD, multipart({ mysubmit: 'Rekey', passwd: 'other-key' }, { archive: other }));
            assert.match(right.body.toString(), /<font color="red">Success\.<\/font>/);
            assert.equal(roku.devId, devIdFor('other-key'));
            assert.equal(roku.signingPassword, 'other-key');
        });
    });

    it('runs channels only when a runner is attached, and stops its own servers on close', async () => {
        const bare = await startFakeRoku({ password: PASSWORD });
        const lines: string[] = [];
        bare.onConsoleLine((l) => lines.push(l));
        const dir = writeChannel(tempDir('bare'), { manifest: 'title=Bare\n', 'source/main.brs': 'sub main()\nend sub\n' });
        const res = await authed(bare.ports.http, 'POST', '/plugin_install', PASSWORD, multipart({ mysubmit: 'Replace' }, { archive: await deterministicZip(dir) }));
        assert.match(res.body.toString(), /Install Success\./);
        await bare.idle();
        assert.equal(bare.running, false);
        assert.ok(lines.some((l) => /no runner is attached/.test(l)));
        await bare.close();
        await assert.rejects(request(bare.ports.http, 'GET', '/'), /ECONNREFUSED/);
    });
});
