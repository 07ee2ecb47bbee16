import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { leaseBrowser, type BrowserLease } from './browser-pool';
import { parseRooibosOutput } from './rooibos-output';
import { startSimServer, type SimServer } from './sim-server';
import type { ExitReason, KeyStep, SimulatorOptions, SimulatorResult, SimulatorSession } from './simulator-types';
import { zipFolder } from './zip';

export type { KeyStep, SimulatorOptions, SimulatorResult, SimulatorSession } from './simulator-types';
/** Re-exported for callers that already take it from here; new code imports ./zip. */
export { zipFolder } from './zip';

const DEVELOPER_ID = 'dev';

export async function loadApp(app: string | Buffer): Promise<Buffer> {
    if (Buffer.isBuffer(app)) {
        return app;
    }
    if (!fs.existsSync(app)) {
        throw new Error(`No channel at ${app}`);
    }
    if (fs.statSync(app).isDirectory()) {
        if (!fs.existsSync(path.join(app, 'manifest'))) {
            throw new Error(`${app} has no manifest: not a channel folder`);
        }
        return zipFolder(app);
    }
    return fs.readFileSync(app);
}

function registryToStorage(registry: Record<string, Record<string, string>> | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [section, keys] of Object.entries(registry ?? {})) {
        for (const [key, value] of Object.entries(keys)) {
            out[`${DEVELOPER_ID}.${section}.${key}`] = value;
        }
    }
    return out;
}

function storageToRegistry(storage: Record<string, string>): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [fullKey, value] of Object.entries(storage)) {
        const [dev, section, ...rest] = fullKey.split('.');
        if (dev !== DEVELOPER_ID || !section || rest.length === 0) {
            continue;
        }
        out[section] = out[section] ?? {};
        out[section][rest.join('.')] = value;
    }
    return out;
}

/** The page's localStorage (where the engine keeps the registry), or undefined if the page cannot answer within 10 s. */
async function readPageStorage(page: Page): Promise<Record<string, string> | undefined> {
    const read = page
        .evaluate(() => {
            const out: Record<string, string> = {};
            for (let i = 0; i < localStorage.length; i++) {
                const key = localStorage.key(i);
                if (key !== null) {
                    out[key] = localStorage.getItem(key) ?? '';
                }
            }
            return out;
        })
        .catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const ceiling = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10000)));
    const result = await Promise.race([read, ceiling]);
    clearTimeout(timer);
    return result;
}

/** A crash reported by brs-engine: `[error] …` line(s) followed by a backtrace. */
const CRASH_LINE = /^(\[error\]|BRIGHTSCRIPT: ERROR:|.*\(runtime error)/;
const COMPILE_ERROR = /(compile error|Syntax Error)/i;

/** Starts a channel in the simulator and returns a handle to drive it while it runs. */
export async function startSimulatorSession(opts: SimulatorOptions): Promise<SimulatorSession> {
    const started = Date.now();
    const zip = await loadApp(opts.app);
    const timeoutMs = opts.timeoutMs ?? 60000;
    const lines: string[] = [];
    const screenshots: string[] = [];
    let storage: Record<string, string> = registryToStorage(opts.registry);
    let registryWrites = 0;
    let crash: { error: string; backtrace: string[] } | undefined;
    let inBacktrace = false;
    const lineWaiters: { match: (line: string) => boolean; from: number; resolve: (index: number) => void }[] = [];

    let finish!: (reason: ExitReason, message: string) => void;
    let finished = false;
    let resultValue: SimulatorResult | undefined;
    let server: SimServer | undefined;
    let lease: BrowserLease | undefined;
    let page: Page | undefined;

    const done = new Promise<SimulatorResult>((resolve) => {
        finish = (reason, message) => {
            if (finished) {
                return;
            }
            finished = true;
            clearTimeout(timer);
            void (async () => {
                if (reason !== 'closed' && page) {
                    // Stopped or timed out mid-run: the registry as the page holds it now, not as
                    // its last registry event reached us (a busy machine delivers those late, after
                    // a request the channel sent right after its write).
                    const live = await readPageStorage(page);
                    if (live) {
                        storage = live;
                    }
                }
                await lease?.release();
                await server?.close().catch(() => undefined);
                let rooibos = opts.rooibos ? parseRooibosOutput(lines) : undefined;
                let finalReason = reason;
                let finalMessage = message;
                if (opts.rooibos && (reason === 'closed' || reason === 'stopped')) {
                    if (!rooibos) {
                        finalReason = 'rooibos-fail';
                        finalMessage = 'the app closed without a Rooibos result: no tests ran';
                    } else if (rooibos.result === 'FAIL') {
                        finalReason = 'rooibos-fail';
                        finalMessage = `Rooibos reported FAIL: ${rooibos.failed} failed, ${rooibos.crashed} crashed of ${rooibos.total}`;
                    }
                }
                resultValue = {
                    ok: finalReason === 'closed',
                    reason: finalReason,
                    message: finalMessage,
                    lines: lines,
                    registry: storageToRegistry(storage),
                    rooibos: rooibos,
                    crash: crash,
                    durationMs: Date.now() - started,
                    screenshots: screenshots,
                    registryWrites: registryWrites,
                    browserReused: lease?.reused
                };
                resolve(resultValue);
            })();
        };
    });

    // The app's clock starts when the engine starts main(), so a slow host start (a busy machine,
    // a browser starting) never eats the app's time; the host start has a ceiling of its own.
    const startupTimeoutMs = opts.startupTimeoutMs ?? Math.max(120000, timeoutMs);
    let timer = setTimeout(() => finish('timeout', `the simulator did not start the app within ${startupTimeoutMs} ms`), startupTimeoutMs);
    let appStarted = false;
    const startAppClock = (): void => {
        if (appStarted || finished) {
            return;
        }
        appStarted = true;
        clearTimeout(timer);
        timer = setTimeout(() => finish('timeout', `the app did not close within ${timeoutMs} ms`), timeoutMs);
    };

    const onLine = (line: string): void => {
        lines.push(line);
        if (line.startsWith('------ Running')) {
            startAppClock();
        }
        opts.onLine?.(line);
        if (CRASH_LINE.test(line) && !crash) {
            crash = { error: line, backtrace: [] };
            inBacktrace = true;
        } else if (crash && inBacktrace) {
            if (line.trim() === '' || line.startsWith('[beacon]') || line.startsWith('------')) {
                inBacktrace = false;
            } else {
                crash.backtrace.push(line);
            }
        }
        for (const waiter of [...lineWaiters]) {
            if (lines.length - 1 >= waiter.from && waiter.match(line)) {
                lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
                waiter.resolve(lines.length - 1);
            }
        }
    };

    const waitForLine = (when: string | RegExp, from: number): Promise<number> => {
        const match = (line: string): boolean => (typeof when === 'string' ? line.includes(when) : when.test(line));
        for (let i = from; i < lines.length; i++) {
            if (match(lines[i])) {
                return Promise.resolve(i);
            }
        }
        return new Promise((resolve) => lineWaiters.push({ match, from, resolve }));
    };

    try {
        server = await startSimServer({
            zip,
            config: { interactive: false, developerId: DEVELOPER_ID, launchParams: opts.launchParams ?? {}, registry: storage }
        });
        lease = await leaseBrowser({ disableWebSecurity: opts.disableWebSecurity, shared: opts.sharedBrowser });
        if (finished) {
            await lease.release();
            throw new Error('the run ended while the browser started');
        }
        page = await lease.context.newPage();
        await page.exposeFunction('__simEvent', (kind: string, data: Record<string, unknown>) => {
            if (kind === 'debug') {
                const level = String(data.level);
                const content = String(data.content ?? '');
                const text = level === 'print' || level === '' ? content : `[${level}] ${content}`;
                for (const line of text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n')) {
                    onLine(line);
                }
            } else if (kind === 'registry') {
                storage = data as Record<string, string>;
                registryWrites++;
                opts.onRegistryWrite?.(registryWrites);
            } else if (kind === 'closed') {
                const reason = String(data.reason ?? '');
                const compileError = lines.find((l) => COMPILE_ERROR.test(l));
                if (compileError && !lines.some((l) => l.startsWith('------ Running'))) {
                    finish('compile-error', `the package did not compile: ${compileError}`);
                } else if (/CRASH|UNK_FUNC|STOP/.test(reason)) {
                    const detail = crash ? `: ${crash.error}` : '';
                    finish('crash', `the app crashed (${reason})${detail}`);
                } else if (/INVALID|UNPACK/.test(reason)) {
                    finish('compile-error', `the package did not compile (${reason})`);
                } else {
                    finish('closed', `the app closed (${reason || 'EXIT_USER_NAV'})`);
                }
            } else if (kind === 'started') {
                startAppClock();
            } else if (kind === 'host-error') {
                finish('crash', `the simulator host failed: ${String(data)}`);
            }
        });
        page.on('pageerror', (err) => onLine(`[host] ${err.message}`));
        await page.goto(server.url);
    } catch (err) {
        finish('stopped', `the simulator could not start: ${(err as Error).message}`);
    }

    const shoot = async (): Promise<Buffer> => {
        if (!page || finished) {
            throw new Error('the app is not running');
        }
        // Two animation frames first, so the engine has drawn what it was told to draw.
        await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
        // A clip of the page, not an element screenshot: that waits for the canvas to be
        // "stable", which a busy machine can take longer than a test allows.
        return page.screenshot({ clip: { x: 0, y: 0, width: 1280, height: 720 }, timeout: 10000 });
    };
    const press = async (key: string): Promise<void> => {
        if (!page || finished) {
            throw new Error('the app is not running');
        }
        // ECP spells literal characters URL-encoded (Lit_%40); the engine wants the character.
        const engineKey = /^Lit_%/i.test(key) ? `Lit_${decodeURIComponent(key.slice(4))}` : key;
        // Resolves once the engine has taken the key down and up (host.js), so keys sent in a row
        // are never dropped by the engine's small key buffer.
        await page.evaluate((k) => (window as unknown as { __simPress: (key: string) => Promise<boolean> }).__simPress(k), engineKey);
    };

    const input = async (params: Record<string, string>): Promise<void> => {
        if (!page || finished) {
            throw new Error('the app is not running');
        }
        await page.evaluate((p) => (window as unknown as { __simInput: (params: Record<string, string>) => void }).__simInput(p), params);
    };

    // Scripted remote.
    void (async () => {
        let cursor = 0;
        for (const step of opts.keys ?? []) {
            if (finished) {
                return;
            }
            if (step.when !== undefined) {
                cursor = Math.max(cursor, (await waitForLine(step.when, step.anytime ? 0 : cursor)) + 1);
            }
            if (step.waitMs) {
                await new Promise((r) => setTimeout(r, step.waitMs));
            }
            if (finished) {
                return;
            }
            // A screenshot that fails (a page too busy to paint in time) is reported but never costs
            // the step its key: the run goes on as scripted.
            if (step.screenshot) {
                try {
                    const dir = opts.screenshotsDir ?? path.resolve('out', 'screenshots');
                    fs.mkdirSync(dir, { recursive: true });
                    const file = path.join(dir, step.screenshot.endsWith('.png') ? step.screenshot : `${step.screenshot}.png`);
                    fs.writeFileSync(file, await shoot());
                    screenshots.push(file);
                } catch (err) {
                    if (!finished) {
                        onLine(`[host] screenshot ${step.screenshot} failed: ${(err as Error).message}`);
                    }
                }
            }
            try {
                if (step.key) {
                    await press(step.key);
                }
            } catch (err) {
                if (!finished) {
                    onLine(`[host] remote step failed: ${(err as Error).message}`);
                }
            }
        }
    })();

    return {
        pressKey: press,
        sendInput: input,
        screenshot: shoot,
        done,
        stop: async () => {
            finish('stopped', 'stopped by the host');
            return done;
        }
    };
}

/** Runs a channel to its end and reports how it ended. */
export async function runInSimulator(opts: SimulatorOptions): Promise<SimulatorResult> {
    const session = await startSimulatorSession(opts);
    return session.done;
}
