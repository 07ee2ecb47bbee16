/**
 * One headless Chromium per process, shared by every simulator run in it. Starting Chromium costs
 * about 2.5 s; a fresh browser context per run costs tens of milliseconds and is just as
 * isolated (its own localStorage, so its own registry). The browser closes itself once no run has
 * used it for a short while, so a test process that is done exits on its own.
 *
 *   SIM_SHARED_BROWSER=0     one Chromium per run (the old behaviour)
 *   SIM_BROWSER_IDLE_MS=n    how long an unused shared browser stays open (default 1500)
 */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { chromiumArgs, findChromium } from './chromium';

export interface BrowserLease {
    context: BrowserContext;
    /** Whether this run got a browser that was already running. */
    reused: boolean;
    /** Closes the context; the browser closes after the idle time when nothing else uses it. */
    release(): Promise<void>;
}

interface Shared {
    browser: Promise<Browser>;
    users: number;
    idle?: NodeJS.Timeout;
    runs: number;
}

const pool = new Map<string, Shared>();

function idleMs(): number {
    const n = Number(process.env.SIM_BROWSER_IDLE_MS ?? 1500);
    return Number.isFinite(n) && n >= 0 ? n : 1500;
}

function launch(disableWebSecurity: boolean): Promise<Browser> {
    return chromium.launch({ executablePath: findChromium(), headless: true, args: chromiumArgs({ disableWebSecurity }) });
}

async function newContext(browser: Browser): Promise<BrowserContext> {
    return browser.newContext({ viewport: { width: 1280, height: 800 } });
}

/** A fresh browser context, in the process's shared Chromium unless `shared` is false. */
export async function leaseBrowser(opts: { disableWebSecurity?: boolean; shared?: boolean } = {}): Promise<BrowserLease> {
    const disableWebSecurity = !!opts.disableWebSecurity;
    const shared = opts.shared ?? process.env.SIM_SHARED_BROWSER !== '0';
    if (!shared) {
        const browser = await launch(disableWebSecurity);
        try {
            const context = await newContext(browser);
            return { context, reused: false, release: () => browser.close().catch(() => undefined) };
        } catch (err) {
            await browser.close().catch(() => undefined);
            throw err;
        }
    }
    const key = disableWebSecurity ? 'no-web-security' : 'default';
    let entry = pool.get(key);
    const reused = !!entry;
    if (!entry) {
        const created: Shared = { browser: launch(disableWebSecurity), users: 0, runs: 0 };
        entry = created;
        pool.set(key, created);
        created.browser.then(
            (b) =>
                b.on('disconnected', () => {
                    if (pool.get(key) === created) {
                        pool.delete(key);
                    }
                }),
            () => {
                if (pool.get(key) === created) {
                    pool.delete(key);
                }
            }
        );
    }
    const mine = entry;
    mine.users++;
    mine.runs++;
    if (mine.idle) {
        clearTimeout(mine.idle);
        mine.idle = undefined;
    }
    let released = false;
    const release = async (context?: BrowserContext): Promise<void> => {
        if (released) {
            return;
        }
        released = true;
        await context?.close().catch(() => undefined);
        mine.users--;
        if (mine.users === 0 && pool.get(key) === mine) {
            mine.idle = setTimeout(() => {
                if (mine.users === 0 && pool.get(key) === mine) {
                    pool.delete(key);
                    void mine.browser.then((b) => b.close()).catch(() => undefined);
                }
            }, idleMs());
        }
    };
    try {
        const browser = await mine.browser;
        const context = await newContext(browser);
        return { context, reused, release: () => release(context) };
    } catch (err) {
        await release();
        throw err;
    }
}

/** Closes every shared browser now (for hosts that want to exit without waiting for the idle time). */
export async function closeSharedBrowsers(): Promise<void> {
    const entries = [...pool.values()];
    pool.clear();
    await Promise.all(
        entries.map(async (e) => {
            if (e.idle) {
                clearTimeout(e.idle);
            }
            await e.browser.then((b) => b.close()).catch(() => undefined);
        })
    );
}
