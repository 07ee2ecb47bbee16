/**
 * A fake Roku on loopback: the developer web server (digest auth, plugin_install, plugin_package,
 * plugin_inspect, pkgs/…), ECP and the BrightScript console, each on its own port. Installed
 * channels run in an injected runner (the brs-engine simulator, or a test double).
 */
import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { SimulatorOptions, SimulatorResult, SimulatorSession } from '../../scripts/lib/simulator-types';
import { compileCheck } from './compile';
import { ConsoleServer } from './console-server';
import { toDeviceLines } from './device-lines';
import { DigestAuthenticator } from './digest';
import { FormParseError, parseForm, type FormData } from './multipart';
import { escapeHtml, renderNotFound, renderPage, renderUnauthorized, type PageMessage } from './pages';
import { devIdFor, readPackage, signPackage, verifyPackage } from './pkg';
import type { Runner, SessionExtras } from './runner';

export interface FakeRokuPorts {
    http: number;
    ecp: number;
    console: number;
}

export interface FakeRokuOptions {
    /** Developer web server password (user is always `rokudev`). */
    password: string;
    /** Password of the device's signing key (what `genkey` printed on a real device). Default: random. */
    signingPassword?: string;
    /** Runs installed channels. Without one, channels are installed and checked but not run. */
    runner?: Runner;
    /** Ports to listen on; 0 (the default) picks a free port. */
    ports?: Partial<FakeRokuPorts>;
    /** Loopback address to bind (127.0.0.1 or ::1). */
    host?: string;
    /** A running channel is stopped after this long (a device never does; this keeps runs bounded). Default 30 min. */
    sessionTimeoutMs?: number;
    /** Extra options for the runner (e.g. disableWebSecurity). */
    runnerOptions?: Partial<Omit<SimulatorOptions, 'app' | 'onLine' | 'launchParams' | 'registry'>>;
    /** Rewrites an installed zip before it runs (e.g. the simulator's engine workarounds). */
    transformApp?: (zip: Buffer) => Promise<Buffer>;
    /** Friendly name reported by ECP device-info. */
    deviceName?: string;
    /** Request log of the emulator itself (never includes passwords). */
    log?: (line: string) => void;
    /** Largest accepted upload. Default 64 MiB. */
    maxUploadBytes?: number;
}

export interface InstalledApp {
    title: string;
    version: string;
    manifest: Record<string, string>;
    zip: Buffer;
    sha256: string;
    installedAt: Date;
}

export interface FakeRoku {
    host: string;
    ports: FakeRokuPorts;
    password: string;
    readonly signingPassword: string;
    readonly devId: string;
    /** Every console line printed since start. */
    readonly consoleLines: readonly string[];
    /** Observe console lines in-process. Returns an unsubscribe function. */
    onConsoleLine(fn: (line: string) => void): () => void;
    readonly installed: InstalledApp | undefined;
    /** A channel session is running. */
    readonly running: boolean;
    /** A client holds the console connection. */
    readonly consoleConnected: boolean;
    /** Resolves when pending installs/launches have settled. */
    idle(): Promise<void>;
    /** Resolves with the result of the session running now (or undefined when none). */
    sessionDone(): Promise<SimulatorResult | undefined>;
    /** ECP key presses received, in order. */
    readonly keypresses: readonly string[];
    /** ECP input requests received (query parameters). */
    readonly inputs: readonly Record<string, string>[];
    /** Signed packages created (name -> bytes). */
    readonly packages: ReadonlyMap<string, Buffer>;
    /** `remotedebug=1` was asked by the last install. */
    readonly remoteDebugRequested: boolean;
    close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startFakeRoku(opts: FakeRokuOptions): Promise<FakeRoku> {
    const host = opts.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host)) {
        throw new Error(`the fake Roku listens on loopback only (127.0.0.1 or ::1), not ${host}`);
    }
    if (!opts.password) {
        throw new Error('a developer password is required');
    }
    const device = new Device(opts);
    await device.listen(host, opts.ports ?? {});
    return device.handle(host);
}

class Device {
    private signingPassword: string;
    private readonly auth: DigestAuthenticator;
    private readonly console = new ConsoleServer();
    private readonly devServer: http.Server;
    private readonly ecpServer: http.Server;
    private readonly sockets = new Set<import('net').Socket>();
    private installed: InstalledApp | undefined;
    private session: (SimulatorSession & SessionExtras) | undefined;
    private sessionResult: Promise<SimulatorResult> | undefined;
    private stoppingSession = false;
    private registry: Record<string, Record<string, string>> = {};
    private queue: Promise<unknown> = Promise.resolve();
    private screenshot: Buffer | undefined;
    private readonly packages = new Map<string, Buffer>();
    readonly keypresses: string[] = [];
    readonly inputs: Record<string, string>[] = [];
    private remoteDebug = false;
    private closed = false;
    ports: FakeRokuPorts = { http: 0, ecp: 0, console: 0 };

    constructor(private readonly opts: FakeRokuOptions) {
        this.signingPassword = opts.signingPassword ?? randomBytes(12).toString('base64url');
        this.auth = new DigestAuthenticator(() => this.opts.password);
        this.devServer = http.createServer((req, res) => {
            this.handleDev(req, res).catch((err: Error) => this.fail(res, err));
        });
        this.ecpServer = http.createServer((req, res) => {
            this.handleEcp(req, res).catch((err: Error) => this.fail(res, err));
        });
        for (const server of [this.devServer, this.ecpServer]) {
            server.on('connection', (s) => {
                this.sockets.add(s);
                s.on('close', () => this.sockets.delete(s));
            });
        }
    }

    private log(line: string): void {
        this.opts.log?.(line);
    }

    private fail(res: http.ServerResponse, err: Error): void {
        this.log(`internal error: ${err.stack ?? err.message}`);
        if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
        }
        res.end('internal error\n');
    }

    get devId(): string {
        return devIdFor(this.signingPassword);
    }

    async listen(host: string, ports: Partial<FakeRokuPorts>): Promise<void> {
        const listenHttp = (server: http.Server, port: number) =>
            new Promise<number>((resolve, reject) => {
                server.once('error', reject);
                server.listen(port, host, () => {
                    server.off('error', reject);
                    resolve((server.address() as AddressInfo).port);
                });
            });
        try {
            this.ports.http = await listenHttp(this.devServer, ports.http ?? 0);
            this.ports.ecp = await listenHttp(this.ecpServer, ports.ecp ?? 0);
            this.ports.console = await this.console.listen(ports.console ?? 0, host);
        } catch (err) {
            await this.close();
            throw err;
        }
    }

    handle(host: string): FakeRoku {
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const self = this;
        return {
            host,
            ports: { ...this.ports },
            password: this.opts.password,
            get signingPassword() {
                return self.signingPassword;
            },
            get devId() {
                return self.devId;
            },
            consoleLines: this.console.history,
            onConsoleLine: (fn) => this.console.onLine(fn),
            get installed() {
                return self.installed;
            },
            get running() {
                return self.session !== undefined;
            },
            get consoleConnected() {
                return self.console.connected;
            },
            idle: () => this.idle(),
            sessionDone: async () => {
                await this.idle();
                return this.sessionResult;
            },
            keypresses: this.keypresses,
            inputs: this.inputs,
            packages: this.packages,
            get remoteDebugRequested() {
                return self.remoteDebug;
            },
            close: () => this.close()
        };
    }

    private async idle(): Promise<void> {
        let last: Promise<unknown> | undefined;
        while (last !== this.queue) {
            last = this.queue;
            await last.catch(() => undefined);
        }
    }

    /** Runs `fn` after every earlier install/launch/stop has finished. */
    private serialize<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.queue.catch(() => undefined).then(fn);
        this.queue = next;
        return next;
    }

    async close(): Promise<void> {
        if (this.closed) {
            return;
        }
        this.closed = true;
        await this.idle();
        await this.stopSession();
        for (const s of this.sockets) {
            s.destroy();
        }
        const closeServer = (server: http.Server) =>
            new Promise<void>((resolve) => {
                if (!server.listening) {
                    resolve();
                    return;
                }
                server.close(() => resolve());
            });
        await Promise.all([closeServer(this.devServer), closeServer(this.ecpServer), this.console.close()]);
    }

    // ------------------------------------------------------------------------------------------
    // Channel sessions

    private print(line: string): void {
        this.console.print(line);
    }

    private async stopSession(): Promise<void> {
        const session = this.session;
        if (!session) {
            return;
        }
        this.stoppingSession = true;
        try {
            await session.stop();
        } finally {
            this.stoppingSession = false;
            this.session = undefined;
        }
    }

    private async launch(launchParams: Record<string, string>): Promise<void> {
        await this.stopSession();
        const app = this.installed;
        if (!app || this.closed) {
            return;
        }
        const runner = this.opts.runner;
        if (!runner) {
            this.print(`[fake-roku] '${app.title}' installed; no runner is attached, so it does not run.`);
            return;
        }
        let zip = app.zip;
        if (this.opts.transformApp) {
            zip = await this.opts.transformApp(zip);
        }
        let session: SimulatorSession & SessionExtras;
        try {
            session = await runner({
                ...(this.opts.runnerOptions ?? {}),
                app: zip,
                launchParams,
                registry: this.registry,
                timeoutMs: this.opts.sessionTimeoutMs ?? 30 * 60 * 1000,
                onLine: (line) => {
                    for (const l of toDeviceLines(line)) {
                        this.print(l);
                    }
                }
            });
        } catch (err) {
            this.print(`[fake-roku] could not run '${app.title}': ${(err as Error).message}`);
            return;
        }
        this.session = session;
        this.sessionResult = session.done;
        void session.done.then((result) => {
            this.registry = result.registry ?? this.registry;
            if (this.session === session) {
                this.session = undefined;
            }
            if (result.reason === 'compile-error') {
                this.print(`*** ERROR compiling dev '${app.title}': Compilation Failed.`);
            } else if (result.reason === 'timeout') {
                this.print(`[fake-roku] '${app.title}' was stopped: it ran longer than the session limit.`);
            } else if (result.reason === 'stopped' && !this.stoppingSession && !this.closed) {
                this.print(`[fake-roku] '${app.title}' stopped: ${result.message}`);
            }
        });
    }

    // ------------------------------------------------------------------------------------------
    // Developer web server

    private async readBody(req: http.IncomingMessage): Promise<Buffer> {
        const limit = this.opts.maxUploadBytes ?? 64 * 1024 * 1024;
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of req) {
            size += (chunk as Buffer).length;
            if (size > limit) {
                throw new FormParseError(`upload larger than ${limit} bytes`);
            }
            chunks.push(chunk as Buffer);
        }
        return Buffer.concat(chunks);
    }

    private send(res: http.ServerResponse, status: number, body: string | Buffer, contentType = 'text/html; charset=utf-8'): void {
        res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), Server: 'Roku/12.0.0 UPnP/1.0 Roku/12.0.0' });
        res.end(body);
    }

    private page(res: http.ServerResponse, title: string, messages: PageMessage[], extra: { fontStatus?: string; json?: Record<string, unknown>; body?: string; status?: number } = {}): void {
        // Extra fields (pkgPath) first: tools take the first `"pkgPath":"…"` on the page.
        const json = {
            ...(extra.json ?? {}),
            metadata: { dev_id: this.devId, dev_key: true, voice_sdk: false },
            packages: this.packageList()
        };
        this.send(res, extra.status ?? 200, renderPage({ title, messages, fontStatus: extra.fontStatus, json, body: extra.body }));
    }

    private packageList(): Record<string, unknown>[] {
        const app = this.installed;
        if (!app) {
            return [];
        }
        return [
            {
                appType: 'channel',
                archiveFileName: 'dev.zip',
                fileType: 'zip',
                id: '0',
                location: 'nvram',
                md5: createHash('md5').update(app.zip).digest('hex'),
                size: String(app.zip.length)
            }
        ];
    }

    private async handleDev(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = req.url ?? '/';
        const method = (req.method ?? 'GET').toUpperCase();
        const path = new URL(url, 'http://device').pathname.replace(/\/+$/, '') || '/';
        const check = this.auth.check(req.headers.authorization, method, url);
        if (!check.ok) {
            if (req.headers.authorization) {
                this.log(`${method} ${path} -> 401 (${check.reason})`);
            }
            req.resume();
            res.writeHead(401, {
                'WWW-Authenticate': this.auth.challenge(check.stale),
                'Content-Type': 'text/html; charset=utf-8',
                Connection: 'close'
            });
            res.end(method === 'HEAD' ? undefined : renderUnauthorized());
            return;
        }
        this.log(`${method} ${path}`);

        if (method === 'HEAD') {
            const known = ['/', '/plugin_install', '/plugin_package', '/plugin_inspect'].includes(path);
            res.writeHead(known ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
            res.end();
            return;
        }
        if (method === 'GET') {
            return this.handleGet(path, res);
        }
        if (method !== 'POST') {
            this.send(res, 405, 'method not allowed\n', 'text/plain');
            return;
        }
        let form: FormData;
        try {
            form = parseForm(req.headers['content-type'], await this.readBody(req));
        } catch (err) {
            if (err instanceof FormParseError) {
                this.page(res, 'Development Application Installer', [{ type: 'error', text: `Failure: Form Error: ${err.message}` }], { status: 400 });
                return;
            }
            throw err;
        }
        switch (path) {
            case '/plugin_install':
                return this.pluginInstall(form, res);
            case '/plugin_package':
                return this.pluginPackage(form, res);
            case '/plugin_inspect':
                return this.pluginInspect(form, res);
            default:
                this.send(res, 404, renderNotFound());
        }
    }

    private handleGet(path: string, res: http.ServerResponse): void {
        if (path === '/' || path === '/plugin_install') {
            this.page(res, 'Development Application Installer', []);
            return;
        }
        if (path === '/plugin_package') {
            this.page(res, 'Application Packager', []);
            return;
        }
        if (path === '/plugin_inspect') {
            this.page(res, 'Utilities', []);
            return;
        }
        const m = /^\/pkgs\/([^/]+)$/.exec(path);
        if (m) {
            const name = m[1];
            if ((name === 'dev.png' || name === 'dev.jpg') && this.screenshot) {
                this.send(res, 200, this.screenshot, 'image/png');
                return;
            }
            const pkg = this.packages.get(name);
            if (pkg) {
                this.send(res, 200, pkg, 'application/octet-stream');
                return;
            }
        }
        this.send(res, 404, renderNotFound());
    }

    private pluginInstall(form: FormData, res: http.ServerResponse): Promise<void> {
        const submit = form.fields.mysubmit ?? '';
        const title = 'Development Application Installer';
        return this.serialize(async () => {
            if (submit === 'Delete' || submit === 'DeleteAll') {
                await this.stopSession();
                this.installed = undefined;
                this.registry = {};
                this.page(res, title, [{ type: 'success', text: 'Delete Succeeded.' }]);
                return;
            }
            if (submit !== 'Replace' && submit !== 'Install') {
                this.page(res, title, [{ type: 'error', text: `Failure: unsupported request ${JSON.stringify(submit)}` }]);
                return;
            }
            const archive = form.files.archive;
            if (!archive || archive.data.length === 0) {
                this.page(res, title, [{ type: 'error', text: 'Failure: Form Error: "archive" Field Not Found' }]);
                return;
            }
            this.remoteDebug = form.fields.remotedebug === '1';
            const autoLaunch = form.fields.dev_autolaunch !== '0';
            const sha256 = createHash('sha256').update(archive.data).digest('hex');
            if (this.installed && this.installed.sha256 === sha256) {
                this.page(res, title, [{ type: 'info', text: 'Identical to previous version -- not replacing.' }]);
                if (autoLaunch) {
                    await this.launch({});
                }
                return;
            }
            await this.stopSession();
            const check = await compileCheck(archive.data);
            if (!check.ok) {
                this.installed = undefined;
                for (const line of check.consoleLines) {
                    this.print(line);
                }
                const text = check.failure === 'unzip' ? 'Install Failure: Unzip failed. Invalid or corrupt zip archive.' : 'Install Failure: Compilation Failed.';
                this.page(res, title, [{ type: 'error', text }]);
                return;
            }
            const manifest = check.manifest;
            this.installed = {
                title: manifest.title ?? 'dev',
                version: `${manifest.major_version ?? '0'}.${manifest.minor_version ?? '0'}.${manifest.build_version ?? '0'}`,
                manifest,
                zip: archive.data,
                sha256,
                installedAt: new Date()
            };
            for (const line of check.consoleLines) {
                this.print(line);
            }
            if (this.remoteDebug) {
                this.print('[fake-roku] remotedebug=1 was requested; the debug protocol (port 8081) is not emulated.');
            }
            this.page(res, title, [
                { type: 'info', text: `Application Received: ${archive.data.length} bytes stored.` },
                { type: 'success', text: 'Install Success.' }
            ]);
            if (autoLaunch) {
                await this.launch({});
            }
        });
    }

    private async pluginPackage(form: FormData, res: http.ServerResponse): Promise<void> {
        const title = 'Application Packager';
        const fail = (text: string) => this.page(res, title, [{ type: 'error', text: `Failed: ${text}` }], { fontStatus: `Failed: ${text}` });
        if (form.fields.mysubmit !== 'Package') {
            fail(`unsupported request ${JSON.stringify(form.fields.mysubmit ?? '')}`);
            return;
        }
        const app = this.installed;
        if (!app) {
            fail('No development application installed. Install one before packaging.');
            return;
        }
        const appName = form.fields.app_name ?? '';
        if (!appName.trim()) {
            fail('App name is required.');
            return;
        }
        if ((form.fields.passwd ?? '') !== this.signingPassword) {
            fail('Invalid Password.');
            return;
        }
        const pkgTime = form.fields.pkg_time ?? String(Date.now());
        const pkg = signPackage(app.zip, { signingPassword: this.signingPassword, appName, pkgTime });
        const name = 'P' + createHash('sha1').update(pkg).digest('hex').slice(0, 31) + '.pkg';
        this.packages.set(name, pkg);
        const pkgPath = `pkgs/${name}`;
        this.page(res, title, [{ type: 'success', text: `Package created: ${name}` }], {
            json: { pkgPath },
            body: `  <a href="${pkgPath}">${escapeHtml(name)}</a>`
        });
    }

    private async pluginInspect(form: FormData, res: http.ServerResponse): Promise<void> {
        const title = 'Utilities';
        const submit = form.fields.mysubmit ?? '';
        if (submit === 'Screenshot') {
            const session = this.session;
            if (!session) {
                this.page(res, title, [{ type: 'error', text: 'Screenshot failed: no development application is running.' }]);
                return;
            }
            try {
                this.screenshot = await session.screenshot();
            } catch (err) {
                this.page(res, title, [{ type: 'error', text: `Screenshot failed: ${(err as Error).message}` }]);
                return;
            }
            const src = `pkgs/dev.png?time=${Date.now()}`;
            this.page(res, title, [{ type: 'success', text: 'Screenshot ok' }], { body: `  <img src="${src}" alt="screenshot">` });
            return;
        }
        if (submit === 'Rekey') {
            const archive = form.files.archive;
            const passwd = form.fields.passwd ?? '';
            const fail = (text: string) => this.page(res, title, [], { fontStatus: `Failed: ${text}` });
            if (!archive || archive.data.length === 0) {
                fail('No package uploaded.');
                return;
            }
            try {
                readPackage(archive.data);
            } catch {
                fail('Invalid package.');
                return;
            }
            const verified = verifyPackage(archive.data, passwd);
            if (!verified.ok) {
                fail('Invalid Password.');
                return;
            }
            this.signingPassword = passwd;
            this.page(res, title, [], { fontStatus: 'Success.' });
            return;
        }
        this.page(res, title, [{ type: 'error', text: `Failure: unsupported request ${JSON.stringify(submit)}` }]);
    }

    // ------------------------------------------------------------------------------------------
    // ECP

    private async handleEcp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://device');
        const method = (req.method ?? 'GET').toUpperCase();
        const parts = url.pathname.split('/').filter((p) => p.length > 0).map((p) => decodeURIComponent(p));
        req.resume();
        const ok = () => {
            res.writeHead(200, { 'Content-Length': 0, Server: 'Roku/12.0.0 UPnP/1.0 Roku/12.0.0' });
            res.end();
        };
        const xml = (body: string) => this.send(res, 200, '<?xml version="1.0" encoding="UTF-8" ?>\n' + body, 'text/xml; charset="utf-8"');
        const params = Object.fromEntries(url.searchParams.entries());
        this.log(`ECP ${method} ${url.pathname}`);

        if (parts[0] === 'query' && method === 'GET') {
            switch (parts[1]) {
                case 'device-info':
                    xml(this.deviceInfoXml());
                    return;
                case 'active-app':
                    xml(this.activeAppXml());
                    return;
                case 'apps':
                    xml(this.appsXml());
                    return;
                default:
                    this.send(res, 404, '', 'text/plain');
                    return;
            }
        }
        if (method !== 'POST') {
            this.send(res, 405, '', 'text/plain');
            return;
        }
        if ((parts[0] === 'keypress' || parts[0] === 'keydown' || parts[0] === 'keyup') && parts[1]) {
            const key = parts[1];
            this.keypresses.push(parts[0] === 'keypress' ? key : `${parts[0]}:${key}`);
            if (parts[0] === 'keyup') {
                ok();
                return;
            }
            if (key.toLowerCase() === 'home') {
                // Home leaves the channel.
                await this.serialize(() => this.stopSession());
                ok();
                return;
            }
            const session = this.session;
            if (session) {
                await session.pressKey(key).catch((err: Error) => this.log(`keypress ${key} failed: ${err.message}`));
            }
            ok();
            return;
        }
        if (parts[0] === 'launch' && parts[1]) {
            if (parts[1] !== 'dev' || !this.installed) {
                this.send(res, 404, '', 'text/plain');
                return;
            }
            ok();
            void this.serialize(() => this.launch(params));
            return;
        }
        if (parts[0] === 'input') {
            this.inputs.push(params);
            const session = this.session;
            if (session?.sendInput) {
                await session.sendInput(params).catch((err: Error) => this.log(`input failed: ${err.message}`));
            }
            ok();
            return;
        }
        this.send(res, 404, '', 'text/plain');
    }

    private deviceInfoXml(): string {
        const name = escapeHtml(this.opts.deviceName ?? 'Fake Roku');
        const serial = 'FAKEROKU' + createHash('sha1').update(String(this.ports.http)).digest('hex').slice(0, 4).toUpperCase();
        return [
            '<device-info>',
            `\t<udid>${createHash('sha1').update(serial).digest('hex').slice(0, 32)}</udid>`,
            `\t<serial-number>${serial}</serial-number>`,
            `\t<device-id>${serial}</device-id>`,
            '\t<vendor-name>Roku</vendor-name>',
            '\t<model-name>Roku Ultra</model-name>',
            '\t<model-number>4850X</model-number>',
            '\t<model-region>US</model-region>',
            '\t<is-tv>false</is-tv>',
            '\t<is-stick>false</is-stick>',
            '\t<ui-resolution>1080p</ui-resolution>',
            '\t<supports-ethernet>true</supports-ethernet>',
            '\t<network-type>ethernet</network-type>',
            `\t<friendly-device-name>${name}</friendly-device-name>`,
            `\t<user-device-name>${name}</user-device-name>`,
            '\t<software-version>15.0.4</software-version>',
            '\t<software-build>4214</software-build>',
            '\t<secure-device>true</secure-device>',
            '\t<language>en</language>',
            '\t<country>US</country>',
            '\t<locale>en_US</locale>',
            '\t<time-zone-auto>true</time-zone-auto>',
            '\t<time-zone>US/Pacific</time-zone>',
            '\t<power-mode>PowerOn</power-mode>',
            '\t<developer-enabled>true</developer-enabled>',
            `\t<keyed-developer-id>${this.devId}</keyed-developer-id>`,
            '\t<search-enabled>true</search-enabled>',
            '\t<voice-search-enabled>true</voice-search-enabled>',
            '\t<supports-ecs-textedit>true</supports-ecs-textedit>',
            '\t<supports-ecs-microphone>true</supports-ecs-microphone>',
            '\t<ecp-setting-mode>enabled</ecp-setting-mode>',
            '</device-info>',
            ''
        ].join('\n');
    }

    private activeAppXml(): string {
        const app = this.installed;
        const inner =
            this.session && app ? `\t<app id="dev" type="appl" version="${escapeHtml(app.version)}">${escapeHtml(app.title)}</app>` : '\t<app>Roku</app>';
        return `<active-app>\n${inner}\n</active-app>\n`;
    }

    private appsXml(): string {
        const app = this.installed;
        const inner = app ? `\t<app id="dev" type="appl" version="${escapeHtml(app.version)}">${escapeHtml(app.title)}</app>\n` : '';
        return `<apps>\n${inner}</apps>\n`;
    }
}
